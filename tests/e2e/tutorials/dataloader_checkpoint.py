"""A DataLoader loop over a TensorDataset, a StepLR scheduler, and saving and loading a
checkpoint ("Saving and loading a general checkpoint"); runs in a scratch directory."""

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(64, 3)
true_w = torch.tensor([[1.5], [-2.0], [0.5]])
y = X @ true_w + 0.1 * torch.randn(64, 1)

dataset = TensorDataset(X, y)
loader = DataLoader(dataset, batch_size=16, shuffle=True)
print(len(dataset), len(loader))

model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
loss_fn = nn.MSELoss()

for epoch in range(6):
    model.train()
    total = 0.0
    for xb, yb in loader:
        pred = model(xb)
        loss = loss_fn(pred, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
    scheduler.step()
    print(f"epoch {epoch} loss {total / len(dataset):.5f} lr {scheduler.get_last_lr()[0]:.4f}")

PATH = "checkpoint.pt"
torch.save(
    {
        "epoch": 6,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "scheduler_state_dict": scheduler.state_dict(),
        "loss": loss,
    },
    PATH,
)

model2 = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
optimizer2 = torch.optim.SGD(model2.parameters(), lr=0.05, momentum=0.9)
scheduler2 = torch.optim.lr_scheduler.StepLR(optimizer2, step_size=2, gamma=0.5)

checkpoint = torch.load(PATH, weights_only=True)
print(model2.load_state_dict(checkpoint["model_state_dict"]))
optimizer2.load_state_dict(checkpoint["optimizer_state_dict"])
scheduler2.load_state_dict(checkpoint["scheduler_state_dict"])
epoch = checkpoint["epoch"]
loss = checkpoint["loss"]
print(epoch, loss, scheduler2.get_last_lr())
print(optimizer2.state_dict()["param_groups"])

model2.eval()
with torch.no_grad():
    print(model2(X[:2]), model(X[:2]))

model2.train()
for xb, yb in loader:
    loss = loss_fn(model2(xb), yb)
    optimizer2.zero_grad()
    loss.backward()
    optimizer2.step()
print(f"resumed epoch loss {loss.item():.5f}")
