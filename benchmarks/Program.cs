using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace Convnet.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "interleave")
        {
            return Interleaved.Run(args[1..]);
        }
        var config = DefaultConfig.Instance.AddColumn(new GflopsColumn());
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return 0;
    }
}
