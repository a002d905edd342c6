using BenchmarkDotNet.Attributes;
using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Benchmarks;

/// <summary>MaxPooling2D (2×2) forward and backward for the reference model's two pooling layers, batch 64, one thread.</summary>
[MemoryDiagnoser]
public class PoolingBenchmarks
{
    public enum PoolLayer
    {
        /// <summary>26×26×32 → 13×13×32.</summary>
        Pool1,
        /// <summary>11×11×64 → 5×5×64.</summary>
        Pool2,
    }

    private WorkerPool? _pool;
    private MaxPooling2D _layer = null!;
    private Tensor _x = null!, _dy = null!;

    [ParamsAllValues]
    public PoolLayer Layer { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new WorkerPool(1);
        _layer = new MaxPooling2D(2);
        var input = Layer == PoolLayer.Pool1 ? Shape.Image(26, 26, 32) : Shape.Image(11, 11, 64);
        _layer.Build(input, new LayerContext(_pool, new ParameterStore(), 1, 0));
        _layer.EnsureCapacity(Fixtures.TrainBatch);
        _x = new Tensor(_layer.InputShape, Fixtures.TrainBatch);
        _dy = new Tensor(_layer.OutputShape, Fixtures.TrainBatch);
        Fixtures.Fill(_x.Span, 1);
        Fixtures.Fill(_dy.Span, 2);
        Forward();
        Backward();
    }

    [GlobalCleanup]
    public void Cleanup() => _pool?.Dispose();

    [Benchmark]
    public Tensor Forward() => _layer.Forward(_x, training: true);

    [Benchmark]
    public Tensor? Backward() => _layer.Backward(_dy);
}
