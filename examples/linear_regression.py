"""Fit y = X @ w + b by gradient descent with tracer.optim.SGD, then print the
recovered parameters next to the true ones.

Run: python examples/linear_regression.py [--steps N]
"""

import argparse

import tracer
import tracer.nn.functional as F

parser = argparse.ArgumentParser(description="Linear regression with tracer.optim.SGD")
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--lr", type=float, default=0.1)
args = parser.parse_args()

# Synthetic data: 200 points, 3 features, a known line plus a little noise.
tracer.manual_seed(0)
true_w = tracer.tensor([2.0, -3.4, 1.7])
true_b = 4.2
X = tracer.randn(200, 3)
y = X @ true_w + true_b + 0.01 * tracer.randn(200)

# The model's parameters start at zero.
w = tracer.zeros(3, requires_grad=True)
b = tracer.zeros(1, requires_grad=True)
optimizer = tracer.optim.SGD([w, b], lr=args.lr, momentum=0.5)

for step in range(args.steps):
    loss = F.mse_loss(X @ w + b, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
        print(f"step {step:4d}  loss {loss.item():.6f}")

print(f"true w    {[round(v, 4) for v in true_w.tolist()]}   true b    {true_b:.4f}")
print(f"learned w {[round(v, 4) for v in w.detach().tolist()]}   learned b {b.item():.4f}")
