using Convnet.Layers;
using Convnet.Models;
using Convnet.Tensors;

namespace Convnet.Tests.Models;

internal static class ReferenceModel
{
    /// <summary>Conv32-Pool-Conv64-Pool-Dense128-Dense10, the project's reference CNN.</summary>
    public static Sequential Create(ulong seed = 1, int threads = 1)
    {
        var model = new Sequential(Shape.Image(28, 28, 1), seed, threads);
        model.Add(new Conv2D(32, 3)).Add(new ReLU()).Add(new MaxPooling2D(2))
            .Add(new Conv2D(64, 3)).Add(new ReLU()).Add(new MaxPooling2D(2))
            .Add(new Flatten()).Add(new Dense(128)).Add(new ReLU()).Add(new Dense(10)).Add(new Softmax());
        return model;
    }
}
