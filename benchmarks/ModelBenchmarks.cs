using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using Convnet.Data;
using Convnet.Models;
using Convnet.Architecture;

namespace Convnet.Benchmarks;

/// <summary>
/// One training step (forward, cross-entropy, backward, Adam) of a model on a batch of 64
/// MNIST-shaped images, plain and with the recipes' augmentation. The model is warmed in
/// GlobalSetup (both paths: the augmenter sizes its buffers on its first batch), and the steady
/// state is checked to allocate nothing, outside BenchmarkDotNet's measurement too.
/// </summary>
[MemoryDiagnoser]
public abstract class TrainingStepBenchmarksBase
{
    private const int Samples = 1024;
    private const int Steps = 32;
    private static readonly Augmentation Augmentation = new(rotationDegrees: 10, zoom: 0.1, shiftFraction: 0.1);
    private Sequential _model = null!;
    private Dataset _data = null!;
    private int[] _order = [];
    private int _step;

    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>The compiled model to train, on <paramref name="threads"/> threads.</summary>
    protected abstract Sequential CreateModel(int threads);

    [GlobalSetup]
    public void Setup()
    {
        _model = CreateModel(Threads);
        _data = Fixtures.SyntheticMnist(Samples);
        _order = Enumerable.Range(0, Samples).ToArray();
        new Random(7).Shuffle(_order);
        for (int i = 0; i < Samples / Fixtures.TrainBatch; i++)
        {
            TrainBatch();
            TrainBatchAugmented();
        }
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < Steps; i++)
        {
            TrainBatch();
            TrainBatchAugmented();
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Console.WriteLine($"// {_model.ParameterCount:N0}-parameter model, steady state (threads={Threads}): {allocated} B allocated over {Steps} plain and {Steps} augmented steps");
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark(Baseline = true)]
    public double TrainBatch()
    {
        int start = _step * Fixtures.TrainBatch % Samples;
        _step++;
        return _model.TrainBatch(_data, _order.AsSpan(start, Fixtures.TrainBatch), out _);
    }

    /// <summary>The same step with on-the-fly augmentation (issue 6: at most 15% slower).</summary>
    [Benchmark]
    public double TrainBatchAugmented()
    {
        int start = _step * Fixtures.TrainBatch % Samples;
        _step++;
        return _model.TrainBatch(_data, _order.AsSpan(start, Fixtures.TrainBatch), Augmentation, 1, _step, out _);
    }
}

/// <summary>The reference model (Conv32-Pool-Conv64-Pool-Dense128-Dense10).</summary>
public class TrainingStepBenchmarks : TrainingStepBenchmarksBase
{
    public static double Flops(string method, ParameterInstances parameters)
    {
        using var model = Fixtures.ReferenceModel(threads: 1);
        return Fixtures.TrainingFlopsPerSample(model) * Fixtures.TrainBatch;
    }

    protected override Sequential CreateModel(int threads) => Fixtures.ReferenceModel(threads);
}

/// <summary>The `strong` recipe (Conv-ReLU-BN ×7, Dropout; 326,410 parameters): BatchNormalization and Dropout in the steady state.</summary>
public class StrongTrainingStepBenchmarks : TrainingStepBenchmarksBase
{
    public static double Flops(string method, ParameterInstances parameters)
    {
        using var model = Strong(threads: 1);
        return Fixtures.TrainingFlopsPerSample(model) * Fixtures.TrainBatch;
    }

    protected override Sequential CreateModel(int threads) => Strong(threads);

    private static Sequential Strong(int threads)
    {
        var model = Architectures.Create("strong", Convnet.Tensors.Shape.Image(28, 28, 1), 10, seed: 1, threads);
        model.Compile(new Convnet.Optimizers.Adam());
        return model;
    }
}

/// <summary>Inference of the reference model: Predict over 1,000 images (in one batch of 1,000), and Predict of one image.</summary>
[MemoryDiagnoser]
public class InferenceBenchmarks
{
    private Sequential _model = null!;
    private Dataset _data = null!;
    private float[] _image = [];

    [Params(1, 2)]
    public int Threads { get; set; }

    public static double Flops(string method, ParameterInstances parameters)
    {
        using var model = Fixtures.ReferenceModel(threads: 1);
        return Fixtures.ForwardFlopsPerSample(model) * (method == nameof(PredictBatch) ? Fixtures.InferenceBatch : 1);
    }

    [GlobalSetup]
    public void Setup()
    {
        _model = Fixtures.ReferenceModel(Threads);
        _data = Fixtures.SyntheticMnist(Fixtures.InferenceBatch);
        _image = new float[28 * 28];
        Fixtures.Fill(_image, 3);
        PredictBatch();
        PredictOne();
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark]
    public float[] PredictBatch() => _model.Predict(_data, Fixtures.InferenceBatch);

    [Benchmark]
    public float[] PredictOne() => _model.Predict(_image);
}
