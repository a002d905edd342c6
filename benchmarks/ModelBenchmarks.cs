using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using Convnet.Data;
using Convnet.Models;

namespace Convnet.Benchmarks;

/// <summary>
/// One training step (forward, cross-entropy, backward, Adam) of the reference model on a batch of 64
/// MNIST-shaped images. The model is warmed in GlobalSetup, so the steady state should allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private const int Samples = 1024;
    private Sequential _model = null!;
    private Dataset _data = null!;
    private int[] _order = [];
    private int _step;

    [Params(1, 2)]
    public int Threads { get; set; }

    public static double Flops(string method, ParameterInstances parameters)
    {
        using var model = Fixtures.ReferenceModel(threads: 1);
        return Fixtures.TrainingFlopsPerSample(model) * Fixtures.TrainBatch;
    }

    [GlobalSetup]
    public void Setup()
    {
        _model = Fixtures.ReferenceModel(Threads);
        _data = Fixtures.SyntheticMnist(Samples);
        _order = Enumerable.Range(0, Samples).ToArray();
        new Random(7).Shuffle(_order);
        for (int i = 0; i < 2 * Samples / Fixtures.TrainBatch; i++)
        {
            TrainBatch();
        }

        // An independent check of the steady state, on all threads, outside BenchmarkDotNet's measurement.
        const int Steps = 32;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < Steps; i++)
        {
            TrainBatch();
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Console.WriteLine($"// TrainBatch steady state (threads={Threads}): {allocated} B allocated over {Steps} steps");
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

    private static readonly Augmentation Augmentation = new(rotationDegrees: 10, zoom: 0.1, shiftFraction: 0.1);
}

/// <summary>
/// One training step of the `strong` recipe (Conv-ReLU-BN ×7, Dropout; 326,410 parameters) on a batch
/// of 64, with and without the recipe's augmentation: BatchNormalization and Dropout in the steady
/// state, which should allocate nothing either.
/// </summary>
[MemoryDiagnoser]
public class StrongTrainingStepBenchmarks
{
    private const int Samples = 1024;
    private Sequential _model = null!;
    private Dataset _data = null!;
    private int[] _order = [];
    private int _step;

    [Params(1, 2)]
    public int Threads { get; set; }

    public static double Flops(string method, ParameterInstances parameters)
    {
        using var model = Architectures.Create("strong", Convnet.Tensors.Shape.Image(28, 28, 1), 10, seed: 1, threads: 1);
        return Fixtures.TrainingFlopsPerSample(model) * Fixtures.TrainBatch;
    }

    [GlobalSetup]
    public void Setup()
    {
        _model = Architectures.Create("strong", Convnet.Tensors.Shape.Image(28, 28, 1), 10, seed: 1, Threads);
        _model.Compile(new Convnet.Optimizers.Adam());
        _data = Fixtures.SyntheticMnist(Samples);
        _order = Enumerable.Range(0, Samples).ToArray();
        new Random(7).Shuffle(_order);
        // Both paths warmed: the augmenter sizes its buffers on its first batch.
        for (int i = 0; i < Samples / Fixtures.TrainBatch; i++)
        {
            TrainBatch();
            TrainBatchAugmented();
        }
        const int Steps = 16;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < Steps; i++)
        {
            TrainBatchAugmented();
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Console.WriteLine($"// strong TrainBatchAugmented steady state (threads={Threads}): {allocated} B allocated over {Steps} steps");
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

    [Benchmark]
    public double TrainBatchAugmented()
    {
        int start = _step * Fixtures.TrainBatch % Samples;
        _step++;
        return _model.TrainBatch(_data, _order.AsSpan(start, Fixtures.TrainBatch), Augmentation, 1, _step, out _);
    }

    private static readonly Augmentation Augmentation = new(rotationDegrees: 10, zoom: 0.1, shiftFraction: 0.1);
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
