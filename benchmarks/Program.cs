using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace Convnet.Benchmarks;

public static class Program
{
    public static void Main(string[] args)
    {
        var config = DefaultConfig.Instance.AddColumn(new GflopsColumn());
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
