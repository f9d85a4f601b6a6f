"""An nn.Sequential MLP trained with BCELoss and Adam on a generated XOR-like dataset."""

import torch
import torch.nn as nn

torch.manual_seed(0)
X = torch.randn(200, 2)
y = ((X[:, 0] * X[:, 1]) > 0).float().unsqueeze(1)
print(X.shape, y.dtype, y.sum())

model = nn.Sequential(
    nn.Linear(2, 16),
    nn.ReLU(),
    nn.Linear(16, 1),
    nn.Sigmoid(),
)
print(model)
print(sum(p.numel() for p in model.parameters()), "parameters")

loss_fn = nn.BCELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for epoch in range(200):
    optimizer.zero_grad()
    out = model(X)
    loss = loss_fn(out, y)
    loss.backward()
    optimizer.step()
    if epoch % 25 == 0:
        print(f"epoch {epoch:3d}: loss {loss.item():.4f}")

model.eval()
with torch.no_grad():
    probs = model(X)
    acc = ((probs > 0.5).float() == y).float().mean()
print(f"accuracy: {acc:.3f}")
print(probs[:3])
print(model[0].weight[:2])
print(model[2].bias)
