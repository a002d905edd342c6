using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Benchmarks;

/// <summary>
/// Conv2D forward and backward for the reference model's two convolutions, batch 64.
/// conv1 (28×28×1 → 26×26×32) is the model's first layer, so as there it computes no input gradient;
/// conv2 (13×13×32 → 11×11×64) computes both the weight and the input gradient.
/// </summary>
[MemoryDiagnoser]
public class ConvLayerBenchmarks
{
    public enum ConvLayer
    {
        Conv1,
        Conv2,
    }

    private WorkerPool? _pool;
    private Conv2D _layer = null!;
    private Tensor _x = null!, _dy = null!;

    [ParamsAllValues]
    public ConvLayer Layer { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    public static Conv2D Create(ConvLayer layer, WorkerPool pool)
    {
        var conv = new Conv2D(layer == ConvLayer.Conv1 ? 32 : 64, 3) { ComputeInputGradient = layer != ConvLayer.Conv1 };
        var input = layer == ConvLayer.Conv1 ? Shape.Image(28, 28, 1) : Shape.Image(13, 13, 32);
        conv.Build(input, new LayerContext(pool, new ParameterStore(), 1, 0));
        return conv;
    }

    public static double Flops(string method, ParameterInstances parameters)
    {
        using var pool = new WorkerPool(1);
        var conv = Create((ConvLayer)parameters[nameof(Layer)], pool);
        double perSample = method == nameof(Forward) ? Fixtures.ForwardFlopsPerSample(conv) : Fixtures.BackwardFlopsPerSample(conv);
        return perSample * Fixtures.TrainBatch;
    }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new WorkerPool(Threads);
        _layer = Create(Layer, _pool);
        _layer.EnsureCapacity(Fixtures.TrainBatch);
        _x = new Tensor(_layer.InputShape, Fixtures.TrainBatch);
        _dy = new Tensor(_layer.OutputShape, Fixtures.TrainBatch);
        Fixtures.Fill(_x.Span, 1);
        Fixtures.Fill(_dy.Span, 2);
        // Warm both directions (and every worker's GEMM packing buffers).
        for (int i = 0; i < 3; i++)
        {
            Forward();
            Backward();
        }
        Forward();
    }

    [GlobalCleanup]
    public void Cleanup() => _pool?.Dispose();

    [Benchmark]
    public Tensor Forward() => _layer.Forward(_x, training: true);

    /// <summary>
    /// Backward reuses the im2col buffer for dcol, so repeated calls after one Forward read the previous
    /// call's dcol as the columns: the same work on different (finite, fixed) values.
    /// </summary>
    [Benchmark]
    public Tensor? Backward() => _layer.Backward(_dy);
}
