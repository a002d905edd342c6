using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Parameters;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Convnet.Benchmarks;

/// <summary>
/// GFLOP/s = floating-point operations of one invocation / mean time. A benchmark class opts in by
/// declaring <c>public static double Flops(string method, ParameterInstances parameters)</c>,
/// returning the operation count of one call of <paramref name="method"/> for those [Params]
/// values, or NaN when FLOPs are not a meaningful measure (memory-bound kernels); the column then
/// shows "-".
/// </summary>
public sealed class GflopsColumn : IColumn
{
    public const string MethodName = "Flops";

    public string Id => nameof(GflopsColumn);
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Floating-point operations per call (2·M·N·K for a GEMM, the model's FLOPs for layers and steps) / Mean, in 10^9 per second";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double flops = FlopsOf(benchmarkCase);
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (double.IsNaN(flops) || mean is not > 0)
        {
            return "-";
        }
        // Mean is in nanoseconds, so FLOP/ns = GFLOP/s.
        return (flops / mean.Value).ToString("F2", CultureInfo.InvariantCulture);
    }

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public override string ToString() => ColumnName;

    /// <summary>FLOPs of one call of the benchmark, or NaN when its class does not count them.</summary>
    public static double FlopsOf(BenchmarkCase benchmarkCase)
    {
        var flops = benchmarkCase.Descriptor.Type.GetMethod(
            MethodName,
            BindingFlags.Public | BindingFlags.Static,
            [typeof(string), typeof(ParameterInstances)]);
        if (flops is null || flops.ReturnType != typeof(double))
        {
            return double.NaN;
        }
        return (double)flops.Invoke(null, [benchmarkCase.Descriptor.WorkloadMethod.Name, benchmarkCase.Parameters])!;
    }
}
