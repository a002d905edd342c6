using System.CommandLine;
using System.Diagnostics;
using System.Runtime.Intrinsics;
using Convnet.Data;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Runtime;
using Convnet.Tensors;

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
        var inputShape = new Option<string>("--input-shape")
        {
            HelpName = "HxWxC",
            Description = "The shape of the synthetic images: height x width x channels (1 or 3).",
            DefaultValueFactory = _ => "28x28x1",
        };
        var classes = new Option<int>("--classes") { Description = "The number of classes the model scores.", DefaultValueFactory = _ => 10 };
        var command = new Command("bench", "Measure training and inference speed of a model (the reference model by default) on synthetic data on this machine.")
        {
            threads, batchSize, seconds, arch, inputShape, classes,
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
            var shape = ParseShape(parse.GetValue(inputShape)!);
            int classCount = parse.GetValue(classes);
            if (classCount is < 2 or > Dataset.MaxClasses)
            {
                throw new UserError($"--classes must be from 2 to {Dataset.MaxClasses}, got {classCount}");
            }
            string archValue = parse.GetValue(arch)!;
            Options.CheckArch(archValue);
            // 4,096 images, fewer of a large shape (up to 256 MB of them), but at least the 1,000 of the inference batch.
            int count = Math.Max(1000, Math.Min(4096, (1 << 28) / shape.Size));
            if (batch > count)
            {
                throw new UserError($"--batch-size {batch} is more than the {count:N0} synthetic images of this shape");
            }
            var data = Synthetic(count, shape, classCount);
            using var net = Options.CreateArch(archValue, data.SampleShape, classCount, seed: 1, t);
            net.Compile(new Adam());
            string width = Vector512.IsHardwareAccelerated ? "512-bit (AVX-512)" : Vector256.IsHardwareAccelerated ? "256-bit (AVX2)" : "scalar";
            output.WriteLine($"Model '{archValue}' on {shape.Height}x{shape.Width}x{shape.Channels} images, {classCount} classes, {net.ParameterCount:N0} parameters; {net.Threads} thread(s); vectors {width}; {Environment.ProcessorCount} cores.");

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

            var inferenceSet = new Dataset(data.Pixels[..(1000 * shape.Size)], data.Labels![..1000], data.SampleShape);
            double inferRate = 1000 * Measure(() => net.Predict(inferenceSet, 1000), budget);
            output.WriteLine($"inference batch 1000: {inferRate,9:N0} images/s");

            var one = new float[shape.Size];
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

    /// <summary>The most values one synthetic image may have (512×512×1): 1,000 of them take 262 MB.</summary>
    private const int MaxImageValues = 1 << 18;

    /// <summary>"32x32x3" → (32, 32, 3); a user error for anything else.</summary>
    internal static Shape ParseShape(string text)
    {
        string[] parts = text.Split('x', 'X');
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        if (parts.Length != 3 || !int.TryParse(parts[0], culture, out int h) || !int.TryParse(parts[1], culture, out int w)
            || !int.TryParse(parts[2], culture, out int c) || h < 1 || w < 1 || c is not (1 or 3))
        {
            throw new UserError($"--input-shape needs HxWxC with positive height and width and 1 or 3 channels (e.g. 32x32x3), got '{text}'");
        }
        if ((long)h * w * c > MaxImageValues)
        {
            throw new UserError($"--input-shape {text} has {(long)h * w * c:N0} values per image; at most {MaxImageValues:N0} are measured");
        }
        return Shape.Image(h, w, c);
    }

    private static Dataset Synthetic(int count, Shape shape, int classes)
    {
        var rng = new Rng(42);
        var pixels = new byte[count * shape.Size];
        var labels = new byte[count];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)rng.NextInt(256);
        }
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)rng.NextInt(classes);
        }
        return new Dataset(pixels, labels, shape);
    }
}
