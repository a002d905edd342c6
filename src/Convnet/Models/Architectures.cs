using Convnet.Layers;
using Convnet.Tensors;

namespace Convnet.Models;

/// <summary>Named model recipes for the command line.</summary>
public static class Architectures
{
    public static IReadOnlyList<string> Names { get; } = ["simple"];

    /// <summary>
    /// "simple": the reference CNN — Conv2D(32, 3) → ReLU → MaxPool(2) → Conv2D(64, 3) → ReLU →
    /// MaxPool(2) → Flatten → Dense(128) → ReLU → Dense(classes) → Softmax.
    /// </summary>
    public static Sequential Create(string name, Shape input, int classes, ulong seed, int threads = 0)
    {
        if (classes < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier needs at least 2 classes.");
        }
        var model = new Sequential(input, seed, threads) { Name = name };
        switch (name)
        {
            case "simple":
                model.Add(new Conv2D(32, 3)).Add(new ReLU()).Add(new MaxPool2D(2))
                    .Add(new Conv2D(64, 3)).Add(new ReLU()).Add(new MaxPool2D(2))
                    .Add(new Flatten()).Add(new Dense(128)).Add(new ReLU()).Add(new Dense(classes)).Add(new Softmax());
                break;
            default:
                model.Dispose();
                throw new ArgumentException($"Unknown architecture '{name}'; known: {string.Join(", ", Names)}.", nameof(name));
        }
        return model;
    }
}
