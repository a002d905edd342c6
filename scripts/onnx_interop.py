"""The closing measurement of the ONNX import: a network trained in PyTorch, imported, predicts as PyTorch.

Trains PyTorch's reference network (Conv32k3-ReLU-MaxPool2-Conv64k3-ReLU-MaxPool2-Flatten-Dense128-ReLU-
Dense10, NCHW, pixels divided by 255 as convnet's data path does) briefly on a Kaggle-format MNIST
train.csv, exports it to ONNX (opset 13, dynamic batch) and writes PyTorch's predicted class for every
row of test.csv. scripts/onnx-interop.sh then imports the file with `convnet import`, predicts the same
rows with `convnet predict` and compares.

    /usr/bin/python3 scripts/onnx_interop.py data/train.csv data/test.csv OUT_DIR [--epochs 1] [--seed 1] [--threads 1]

writes OUT_DIR/reference.onnx and OUT_DIR/pytorch.csv (ImageId,Label, as convnet predict writes).
Needs Debian's python3-torch and python3-onnx.
"""
import argparse
import os
import time

import numpy as np
import torch
from torch import nn


def read_csv(path, labelled):
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64)
    labels = data[:, 0] if labelled else None
    pixels = (data[:, 1:] if labelled else data).astype(np.uint8)
    return pixels, labels


def to_input(pixels):
    # byte / 255 in float32, as convnet's data path scales pixels (Elementwise.BytesToUnit).
    return torch.from_numpy(pixels.astype(np.float32) / np.float32(255)).reshape(-1, 1, 28, 28)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("out_dir")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    train_pixels, train_labels = read_csv(args.train, labelled=True)
    test_pixels, _ = read_csv(args.test, labelled=False)
    x, y = to_input(train_pixels), torch.from_numpy(train_labels)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    start = time.time()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            batch = order[i:i + 64]
            optimizer.zero_grad()
            loss = loss_fn(net(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}/{args.epochs}: last batch loss {loss.item():.4f}, {time.time() - start:.0f} s", flush=True)
    net.eval()

    os.makedirs(args.out_dir, exist_ok=True)
    torch.onnx.export(
        net, x[:1], os.path.join(args.out_dir, "reference.onnx"), input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    with torch.no_grad():
        test = to_input(test_pixels)
        classes = torch.cat([net(test[i:i + 1000]).argmax(dim=1) for i in range(0, len(test), 1000)])
    with open(os.path.join(args.out_dir, "pytorch.csv"), "w") as f:
        f.write("ImageId,Label\n")
        for i, c in enumerate(classes.tolist()):
            f.write(f"{i + 1},{c}\n")
    print(f"exported {os.path.join(args.out_dir, 'reference.onnx')}; PyTorch's classes for {len(classes)} test images in pytorch.csv")


if __name__ == "__main__":
    main()
