"""Logistic regression on two Gaussian blobs with BCEWithLogitsLoss and SGD."""

import torch
import torch.nn as nn

torch.manual_seed(42)
n = 100
X = torch.cat([torch.randn(n, 2) + 2, torch.randn(n, 2) - 2])
y = torch.cat([torch.ones(n), torch.zeros(n)])


class LogisticRegression(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        return self.linear(x).squeeze(1)


model = LogisticRegression(2)
print(model)
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

num_epochs = 100
for epoch in range(num_epochs):
    logits = model(X)
    loss = criterion(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if (epoch + 1) % 20 == 0:
        print(f"Epoch [{epoch + 1}/{num_epochs}], Loss: {loss.item():.4f}")

with torch.no_grad():
    probs = torch.sigmoid(model(X))
    preds = (probs >= 0.5).float()
    print("Accuracy:", (preds == y).sum().item() / len(y))
    print(probs[:3], probs[-3:])

print(model.linear.weight)
print(model.linear.bias)
print(model.state_dict())
