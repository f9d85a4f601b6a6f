"""A quick tour: the PyTorch autograd notebook replayed with tracer, then the
same loss staged with @tracer.trace and differentiated symbolically.

Run: python examples/tour.py
"""

import tracer

print("# Eager mode: the autograd notebook, with `import tracer` for `import torch`\n")

x = tracer.tensor([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376])
loss = x**2 - 5
print(loss)

x = tracer.tensor([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376], requires_grad=True)
loss = x**2 - 5
print(loss)
print(loss.grad_fn)

loss.backward(gradient=tracer.ones(5))
print(x.grad)
print(2 * x)

a = tracer.rand(2, 2, requires_grad=True)
print(a.requires_grad)
b = a.detach()
print(b.requires_grad)

c = tracer.rand(2, 2, requires_grad=True)
with tracer.no_grad():
    loss = c**2
    print(loss.requires_grad)

print("\n# Compiled mode: the same loss under @tracer.trace\n")


@tracer.trace
def notebook_loss(x):
    return x**2 - 5


x = tracer.tensor([-1.2365, 1.8245, -1.0701, 0.0869, -0.0376], requires_grad=True)
print("forward IR:")
print(notebook_loss.ir(x))
print("backward IR (takes the saved residuals and the output cotangent):")
print(notebook_loss.grad_ir(x))

loss = notebook_loss(x)
print(loss)
loss.backward(gradient=tracer.ones(5))
print(x.grad)

print("\n# value_and_grad stages forward and backward as one graph\n")
value_and_grad = tracer.value_and_grad(lambda x: (x**2 - 5).sum())
value, grad = value_and_grad(x.detach())
print(value)
print(grad)
print(value_and_grad.ir(x.detach()))
