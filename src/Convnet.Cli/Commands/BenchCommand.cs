using System.CommandLine;
using System.Diagnostics;
using System.Runtime.Intrinsics;
using Convnet.Data;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Runtime;

namespace Convnet.Cli.Commands;

internal static class BenchCommand
{
    public static Command Create()
    {
        var threads = Options.Threads();
        var batchSize = new Option<int>("--batch-size", "-b") { Description = "Training batch size.", DefaultValueFactory = _ => 64 };
        var seconds = new Option<double>("--seconds") { Description = "Measuring time for each part.", DefaultValueFactory = _ => 5 };
        var arch = new Option<string>("--arch")
        {
            HelpName = "NAME|SPEC|FILE.json",
            Description = $"Architecture to measure. {Options.ArchHelp}",
            DefaultValueFactory = _ => "simple",
        };
        var command = new Command("bench", "Measure training and inference speed of a model (the reference model by default) on synthetic data on this machine.")
        {
            threads, batchSize, seconds, arch,
        };
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            int t = Options.CheckThreads(parse.GetValue(threads));
            int batch = parse.GetValue(batchSize);
            double budget = parse.GetValue(seconds);
            if (batch < 1 || !(budget > 0))
            {
                throw new UserError("--batch-size and --seconds must be positive");
            }
            string archValue = parse.GetValue(arch)!;
            Options.CheckArch(archValue);
            var data = Synthetic(4096);
            using var net = Options.CreateArch(archValue, data.SampleShape, 10, seed: 1, t);
            net.Compile(new Adam());
            string width = Vector512.IsHardwareAccelerated ? "512-bit (AVX-512)" : Vector256.IsHardwareAccelerated ? "256-bit (AVX2)" : "scalar";
            output.WriteLine($"Model '{archValue}', {net.ParameterCount:N0} parameters; {net.Threads} thread(s); vectors {width}; {Environment.ProcessorCount} cores.");

            var order = Enumerable.Range(0, data.Count).ToArray();
            int step = 0;
            void TrainStep()
            {
                int start = step * batch % (data.Count - batch + 1);
                net.TrainBatch(data, order.AsSpan(start, batch), out _);
                step++;
            }
            double trainRate = batch * Measure(TrainStep, budget);
            output.WriteLine($"train     batch {batch,4}: {trainRate,9:N0} images/s");

            var inferenceSet = new Dataset(data.Pixels[..(1000 * 784)], data.Labels![..1000], data.SampleShape);
            double inferRate = 1000 * Measure(() => net.Predict(inferenceSet, 1000), budget);
            output.WriteLine($"inference batch 1000: {inferRate,9:N0} images/s");

            var one = new float[784];
            Elementwise(data.Image(0), one);
            double latency = 1e6 / Measure(() => net.Predict(one), budget);
            output.WriteLine($"inference batch    1: {latency,9:F1} µs per image");
            return 0;
        }));
        return command;
    }

    private static void Elementwise(ReadOnlySpan<byte> x, Span<float> y) => Kernels.Elementwise.BytesToUnit(x, y);

    /// <summary>Calls per second after a warm-up of a fifth of the budget.</summary>
    private static double Measure(Action action, double seconds)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds / 5)
        {
            action();
        }
        int calls = 0;
        clock.Restart();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            action();
            calls++;
        }
        return calls / clock.Elapsed.TotalSeconds;
    }

    private static Dataset Synthetic(int count)
    {
        var rng = new Rng(42);
        var pixels = new byte[count * 784];
        var labels = new byte[count];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)rng.NextInt(256);
        }
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)rng.NextInt(10);
        }
        return new Dataset(pixels, labels, KaggleCsv.ImageShape);
    }
}
