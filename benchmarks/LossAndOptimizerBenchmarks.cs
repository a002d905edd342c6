using BenchmarkDotNet.Attributes;
using Convnet.Layers;
using Convnet.Optimizers;

namespace Convnet.Benchmarks;

/// <summary>Fused softmax cross-entropy on a batch of 64×10 logits.</summary>
[MemoryDiagnoser]
public class SoftmaxCrossEntropyBenchmarks
{
    private const int Classes = 10;
    private float[] _logits = [], _dlogits = [];
    private int[] _labels = [];

    [GlobalSetup]
    public void Setup()
    {
        _logits = Fixtures.RandomFloats(Fixtures.TrainBatch * Classes, 1);
        _dlogits = new float[_logits.Length];
        var random = new Random(2);
        _labels = Enumerable.Range(0, Fixtures.TrainBatch).Select(_ => random.Next(Classes)).ToArray();
    }

    [Benchmark]
    public double CrossEntropy()
        => Kernels.Softmax.CrossEntropy(_logits, _labels, Fixtures.TrainBatch, Classes, 0, 1f / Fixtures.TrainBatch, _dlogits, out _);
}

/// <summary>
/// Adam over the reference model's 225,034 parameters: the kernel over one flat buffer, and
/// <see cref="Adam.Step"/> over the model's eight parameter tensors.
/// </summary>
[MemoryDiagnoser]
public class AdamBenchmarks
{
    private float[] _w = [], _g = [], _m = [], _v = [];
    private ParameterStore _store = null!;
    private Adam _adam = null!;

    [GlobalSetup]
    public void Setup()
    {
        using var model = Fixtures.ReferenceModel(threads: 1);
        int count = model.ParameterCount;
        if (count != 225_034)
        {
            throw new InvalidOperationException($"The reference model has {count} parameters, expected 225,034.");
        }
        _w = Fixtures.RandomFloats(count, 1);
        _g = Fixtures.RandomFloats(count, 2);
        _m = new float[count];
        _v = new float[count];

        // A store with the model's parameter shapes.
        _store = new ParameterStore();
        foreach (var p in model.Parameters)
        {
            _store.Add(p.Name, p.Shape);
        }
        Fixtures.Fill(_store.Values, 3);
        Fixtures.Fill(_store.Gradients, 4);
        _adam = new Adam();
        _adam.Step(_store.Parameters); // creates the moment buffers
    }

    [Benchmark]
    public void AdamKernel() => Kernels.OptimizerKernels.Adam(_w, _g, _m, _v, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.1f, 0.001f);

    [Benchmark]
    public void AdamStep() => _adam.Step(_store.Parameters);
}
