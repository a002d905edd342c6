using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using Convnet.Architecture;
using Convnet.Data;
using Convnet.Optimizers;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Benchmarks;

/// <summary>
/// Training steps of several builds of the library in one process, interleaved a few steps at a
/// time: `interleave ARCH THREADS ROUNDS STEPS DIR[@THREADS|@side]...`, each DIR a build's output folder
/// (`dotnet publish src/Convnet.Cli -c Release -o DIR`) whose Convnet.dll is loaded into a context of
/// its own. On a shared machine whose speed swings by 1.5× from one minute to the next, builds run in
/// separate processes, even alternated, differ by more than a change's effect; here each round runs
/// every variant for STEPS steps (in turn, the order reversed every other round), so each per-round
/// ratio compares runs a fraction of a second apart. Prints each variant's median time per step and,
/// for each pair, the median and quartiles of the per-round ratios. `DIR@side` trains two models of
/// one thread each side by side, each on a thread of its own with no hand-off between them (as two
/// one-thread processes would), and counts both: the most two threads can do on this machine when
/// nothing is shared or waited for, for a two-thread model to be measured against.
/// </summary>
public static class Interleaved
{
    private const int Batch = 64, Images = 1024;

    public static int Run(string[] args)
    {
        if (args.Length < 5)
        {
            Console.Error.WriteLine("usage: interleave ARCH THREADS ROUNDS STEPS DIR[@THREADS|@side]...");
            return 2;
        }
        string arch = args[0];
        int threads = int.Parse(args[1], CultureInfo.InvariantCulture), rounds = int.Parse(args[2], CultureInfo.InvariantCulture), steps = int.Parse(args[3], CultureInfo.InvariantCulture);
        var specs = args[4..];
        var contexts = new Dictionary<string, Assembly>();
        var variants = new List<Func<int, double>>();
        foreach (var spec in specs)
        {
            var parts = spec.Split('@');
            string dir = Path.GetFullPath(parts[0]);
            if (!contexts.TryGetValue(dir, out var self))
            {
                self = new BuildContext(dir).LoadFromAssemblyPath(typeof(Interleaved).Assembly.Location);
                contexts[dir] = self;
            }
            var create = self.GetType(typeof(Interleaved).FullName!)!.GetMethod(nameof(CreateStep))!;
            if (parts.Length > 1 && parts[1] == "side")
            {
                variants.Add(SideBySide((Func<double>)create.Invoke(null, [arch, 1])!, (Func<double>)create.Invoke(null, [arch, 1])!));
                continue;
            }
            int t = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : threads;
            var single = (Func<double>)create.Invoke(null, [arch, t])!;
            variants.Add(count =>
            {
                double sum = 0;
                for (int s = 0; s < count; s++)
                {
                    sum += single();
                }
                return sum / count;
            });
        }
        for (int warm = 0; warm < 3; warm++)
        {
            foreach (var run in variants)
            {
                run(20);
            }
        }
        var times = specs.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < variants.Count; i++)
            {
                int v = round % 2 == 0 ? i : variants.Count - 1 - i;
                times[v].Add(variants[v](steps));
            }
        }
        for (int v = 0; v < specs.Length; v++)
        {
            double median = Quantile(times[v], 0.5);
            Console.WriteLine($"{specs[v],-32} median {median:F2} ms/step = {Batch * 1000 / median:F0} images/s (fastest round {times[v].Min():F2}, slowest {times[v].Max():F2})");
        }
        for (int u = 0; u < specs.Length; u++)
        {
            for (int v = u + 1; v < specs.Length; v++)
            {
                var ratios = times[u].Zip(times[v], (a, b) => a / b).ToList();
                Console.WriteLine($"{specs[v]} / {specs[u]}: speed ratio, median of {rounds} rounds {Quantile(ratios, 0.5):F3} (quartiles {Quantile(ratios, 0.25):F3}, {Quantile(ratios, 0.75):F3})");
            }
        }
        return 0;
    }

    /// <summary>A model of <paramref name="arch"/> with Adam over 1,024 synthetic 28×28 images, as `convnet bench` trains it; each call trains one batch and returns its milliseconds.</summary>
    public static Func<double> CreateStep(string arch, int threads)
    {
        var shape = Shape.Image(28, 28, 1);
        var rng = new Rng(42);
        var pixels = new byte[Images * shape.Size];
        var labels = new byte[Images];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)rng.NextInt(256);
        }
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = (byte)rng.NextInt(10);
        }
        var data = new Dataset(pixels, labels, shape);
        var net = Architectures.Create(arch, shape, 10, 1, threads);
        net.Compile(new Adam());
        var order = Enumerable.Range(0, Images).ToArray();
        int step = 0;
        return () =>
        {
            long start = Stopwatch.GetTimestamp();
            net.TrainBatch(data, order.AsSpan(step * Batch % (Images - Batch), Batch), out _);
            step++;
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        };
    }

    // Each model trains `count` batches on a thread of its own, started together; the wall time over
    // both models' batches, so that the figure compares with a two-thread model's time per batch.
    private static Func<int, double> SideBySide(Func<double> first, Func<double> second) => count =>
    {
        long start = Stopwatch.GetTimestamp();
        var other = new Thread(() =>
        {
            for (int s = 0; s < count; s++)
            {
                second();
            }
        });
        other.Start();
        for (int s = 0; s < count; s++)
        {
            first();
        }
        other.Join();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds / (2 * count);
    };

    private static double Quantile(List<double> values, double q)
    {
        var sorted = values.OrderBy(x => x).ToArray();
        double position = q * (sorted.Length - 1);
        int low = (int)position;
        return low + 1 < sorted.Length ? sorted[low] + (position - low) * (sorted[low + 1] - sorted[low]) : sorted[low];
    }

    // Resolves Convnet from the build's folder; everything else (the runtime, this project's packages) as usual.
    private sealed class BuildContext(string dir) : AssemblyLoadContext(isCollectible: false)
    {
        protected override Assembly? Load(AssemblyName name) =>
            name.Name == "Convnet" ? LoadFromAssemblyPath(Path.Combine(dir, "Convnet.dll")) : null;
    }
}
