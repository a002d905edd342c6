using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using Convnet.Kernels;

namespace Convnet.Benchmarks;

/// <summary>The GEMM shapes of the reference model (per chunk of 16 images), plus 512³; one thread, the kernel only.</summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    public enum GemmShape
    {
        /// <summary>conv1 forward: col [16·676, 9] · W [9, 32].</summary>
        Conv1Forward,
        /// <summary>conv2 forward: col [1936, 288] · W [288, 64].</summary>
        Conv2Forward,
        /// <summary>conv2 input gradient: dy [1936, 64] · Wᵀ (W [288, 64]).</summary>
        Conv2InputGradient,
        /// <summary>conv2 weight gradient over the batch of 64: colᵀ (col [7744, 288]) · dy [7744, 64].</summary>
        Conv2WeightGradient,
        /// <summary>dense1 forward: x [16, 1600] · W [1600, 128].</summary>
        Dense1Forward,
        Square512,
    }

    private float[] _a = [], _b = [], _c = [];
    private int _m, _n, _k;
    private bool _transA, _transB;

    [ParamsAllValues]
    public GemmShape Shape { get; set; }

    public static (int M, int N, int K, bool TransA, bool TransB) Dimensions(GemmShape shape) => shape switch
    {
        GemmShape.Conv1Forward => (16 * 676, 32, 9, false, false),
        GemmShape.Conv2Forward => (1936, 64, 288, false, false),
        GemmShape.Conv2InputGradient => (1936, 288, 64, false, true),
        GemmShape.Conv2WeightGradient => (288, 64, 64 * 121, true, false),
        GemmShape.Dense1Forward => (16, 128, 1600, false, false),
        GemmShape.Square512 => (512, 512, 512, false, false),
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    public static double Flops(string method, ParameterInstances parameters)
    {
        var (m, n, k, _, _) = Dimensions((GemmShape)parameters[nameof(Shape)]);
        return 2.0 * m * n * k;
    }

    [GlobalSetup]
    public void Setup()
    {
        (_m, _n, _k, _transA, _transB) = Dimensions(Shape);
        _a = Fixtures.RandomFloats(_m * _k, 1);
        _b = Fixtures.RandomFloats(_k * _n, 2);
        _c = GC.AllocateArray<float>(_m * _n, pinned: true);
        Multiply(); // allocates this thread's packing buffers
    }

    [Benchmark]
    public void Multiply() => Gemm.Multiply(_a, _transA, _b, _transB, _m, _n, _k, _c, accumulate: false);
}
