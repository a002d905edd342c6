using Convnet.Data;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Tensors;

namespace Convnet.Benchmarks;

/// <summary>Models, data and FLOP counts shared by the benchmarks.</summary>
public static class Fixtures
{
    public const int TrainBatch = 64;
    public const int InferenceBatch = 1000;

    /// <summary>Conv32-Pool-Conv64-Pool-Dense128-Dense10, as tests/Convnet.Tests/Models/ReferenceModel.cs.</summary>
    public static Sequential ReferenceModel(int threads, ulong seed = 1)
    {
        var model = new Sequential(Shape.Image(28, 28, 1), seed, threads);
        model.Add(new Conv2D(32, 3)).Add(new ReLU()).Add(new MaxPooling2D(2))
            .Add(new Conv2D(64, 3)).Add(new ReLU()).Add(new MaxPooling2D(2))
            .Add(new Flatten()).Add(new Dense(128)).Add(new ReLU()).Add(new Dense(10)).Add(new Softmax());
        model.Compile(new Adam());
        return model;
    }

    /// <summary>MNIST-shaped random images (bytes) with random labels 0-9.</summary>
    public static Dataset SyntheticMnist(int count, int seed = 42)
    {
        var random = new Random(seed);
        var pixels = new byte[count * 28 * 28];
        var labels = new byte[count];
        random.NextBytes(pixels);
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)random.Next(10);
        }
        return new Dataset(pixels, labels, Shape.Image(28, 28, 1));
    }

    /// <summary>Uniform values in [-1, 1).</summary>
    public static float[] RandomFloats(int length, int seed)
    {
        var random = new Random(seed);
        var values = GC.AllocateArray<float>(length, pinned: true);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }
        return values;
    }

    public static void Fill(Span<float> values, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }
    }

    /// <summary>
    /// Multiply-add FLOPs of one sample through a layer: 2·OH·OW·F·K·K·C for Conv2D, 2·in·units for
    /// Dense, 0 for the rest (pooling, activations and reshapes do no multiply-adds).
    /// </summary>
    public static double ForwardFlopsPerSample(Layer layer) => layer switch
    {
        Conv2D c => 2.0 * c.OutputShape.Height * c.OutputShape.Width * c.Filters * c.KernelSize * c.KernelSize * c.InputShape.Channels,
        Dense d => 2.0 * d.InputShape.Size * d.Units,
        _ => 0,
    };

    /// <summary>
    /// Backward FLOPs of one sample: the weight gradient costs as much as the forward pass, and so does
    /// the input gradient, which the first layer of a model skips.
    /// </summary>
    public static double BackwardFlopsPerSample(Layer layer)
        => ForwardFlopsPerSample(layer) * (layer.ComputeInputGradient ? 2 : 1);

    public static double ForwardFlopsPerSample(Sequential model) => model.Layers.Sum(ForwardFlopsPerSample);

    /// <summary>Forward + backward of one sample; about 15.4 MFLOP for the reference model.</summary>
    public static double TrainingFlopsPerSample(Sequential model)
        => model.Layers.Sum(l => ForwardFlopsPerSample(l) + BackwardFlopsPerSample(l));
}
