using System.Text;
using Convnet.Architecture;
using Convnet.Cli;
using Convnet.Data;
using Convnet.IO;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using SharpFuzz;

namespace Convnet.Fuzz;

/// <summary>
/// Fuzz harnesses for the inputs strangers feed the tool. <c>Convnet.Fuzz TARGET</c> runs TARGET
/// under afl-fuzz (input on stdin); <c>Convnet.Fuzz TARGET FILE...</c> replays files and reports
/// each outcome. A target refuses bad input with the library's or the CLI's own exception; any
/// other exception (and any OutOfMemoryException under the run's heap limit) is a finding.
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, (string Extension, Action<byte[], string> Run)> Targets = new()
    {
        ["csv"] = (".csv", Csv),
        ["model"] = (".safetensors", Model),
        ["arch"] = (".txt", Arch),
        ["image"] = (".img", Image),
    };

    private const int MaxPredictedInput = 1 << 16;

    /// <summary>
    /// The memory budget every input runs under (MemoryBudget): a model the tool would refuse on a
    /// 512 MB budget is refused here too, well inside run.sh's heap cap, so only memory taken
    /// past the budget's checks counts as a finding.
    /// </summary>
    private const long HarnessMemoryBudget = 512L << 20;

    // One scratch file per process: the file-reading targets read their input from it.
    private static readonly string Scratch = Path.Combine(Path.GetTempPath(), $"convnet-fuzz-{Environment.ProcessId}");

    public static int Main(string[] args)
    {
        if (args is ["seeds", string dir])
        {
            Seeds.Write(dir);
            return 0;
        }
        if (args.Length == 0 || !Targets.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"usage: Convnet.Fuzz {string.Join('|', Targets.Keys)} [FILE...]  (no FILE: run under afl-fuzz, input on stdin), or Convnet.Fuzz seeds DIR");
            return 2;
        }
        string path = Scratch + target.Extension;
        try
        {
            if (args.Length > 1)
            {
                return Replay(args[1..], target.Run, path);
            }
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                Outcomes.Clear();
                try
                {
                    using var budget = MemoryBudget.Use(HarnessMemoryBudget);
                    target.Run(buffer.ToArray(), path);
                }
                catch (Exception e) when (Environment.GetEnvironmentVariable("FUZZ_LOG") is string log)
                {
                    // afl-fuzz keeps the input but not the exception: with FUZZ_LOG set, keep it too.
                    File.AppendAllText(log, $"{e}\n\n");
                    throw;
                }
            });
            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static int Replay(string[] files, Action<byte[], string> run, string path)
    {
        int findings = 0;
        foreach (string file in files)
        {
            try
            {
                Outcomes.Clear();
                using var budget = MemoryBudget.Use(HarnessMemoryBudget);
                run(File.ReadAllBytes(file), path);
                Console.WriteLine($"{file}: {string.Join(" | ", Outcomes)}");
            }
            catch (Exception e)
            {
                findings++;
                Console.WriteLine($"{file}: FINDING {e.GetType().FullName}: {e.Message}");
                Console.WriteLine(e.StackTrace);
            }
        }
        return findings == 0 ? 0 : 1;
    }

    /// <summary>The Kaggle readers: image files (labelled or not) and ImageId,Label files.</summary>
    private static void Csv(byte[] input, string path)
    {
        File.WriteAllBytes(path, input);
        try
        {
            var data = KaggleCsv.Read(path);
            Check(data.Pixels.Length == data.Count * KaggleCsv.PixelCount, "pixel count does not match the row count");
            Accepted();
        }
        catch (DataFormatException e)
        {
            Refused(e);
        }
        try
        {
            KaggleCsv.ReadLabels(path);
            Accepted();
        }
        catch (DataFormatException e)
        {
            Refused(e);
        }
    }

    /// <summary>The safetensors reader, then the model loader and one prediction, as 'predict' does.</summary>
    private static void Model(byte[] input, string path)
    {
        File.WriteAllBytes(path, input);
        try
        {
            SafeTensors.Read(path);
            Accepted();
        }
        catch (ModelFormatException e)
        {
            Refused(e);
        }
        try
        {
            using var model = ModelFile.LoadClassifier(path, threads: 1).Model;
            // 'predict' runs a model only on data of its input shape, so a huge claimed input
            // costs the user's data, not ours: predict only on inputs a test could hold.
            if (model.InputShape.Size <= MaxPredictedInput)
            {
                var scores = model.Predict(new float[model.InputShape.Size]);
                Check(scores.Length == model.Classes, "a prediction has the wrong length");
            }
            Accepted();
        }
        catch (Exception e) when (e is ModelFormatException or ModelTooLargeException)
        {
            Refused(e);
        }
    }

    /// <summary>The --arch spec language and architecture JSON, built for Kaggle's 28×28×1 digits and 10 classes.</summary>
    private static void Arch(byte[] input, string path)
    {
        string text = Encoding.UTF8.GetString(input);
        var shape = Shape.Image(KaggleCsv.ImageSide, KaggleCsv.ImageSide, 1);
        try
        {
            ArchitectureSpec.Parse(text);
            using var model = ArchitectureSpec.Build(text, shape, KaggleCsv.ClassCount, seed: 1, threads: 1);
            PredictOnce(model);
        }
        catch (Exception e) when (e is ArchitectureSpecException or ModelTooLargeException)
        {
            Refused(e);
        }
        try
        {
            using var model = ArchitectureSpec.FromJson(text, shape, KaggleCsv.ClassCount, seed: 1, threads: 1);
            PredictOnce(model);
        }
        catch (Exception e) when (e is ArchitectureSpecException or ModelTooLargeException)
        {
            Refused(e);
        }
    }

    /// <summary>'predict --image': decode to gray, then the MNIST-style 28×28 preprocessing.</summary>
    private static void Image(byte[] input, string path)
    {
        File.WriteAllBytes(path, input);
        try
        {
            var (gray, width, height) = ImageLoader.LoadGray(path);
            float[] digit;
            try
            {
                digit = DigitImage.Preprocess(gray, width, height);
            }
            catch (ArgumentException e)
            {
                // PredictCommand turns this into a UserError naming the file.
                throw new UserError(e.Message);
            }
            Check(digit.Length == DigitImage.Side * DigitImage.Side, "the digit is not 28×28");
            Check(Array.TrueForAll(digit, v => v is >= 0 and <= 1), "a pixel of the digit is outside [0, 1]");
            Accepted();
        }
        catch (UserError e)
        {
            Refused(e);
        }
    }

    private static void PredictOnce(Sequential model)
    {
        var scores = model.Predict(new float[model.InputShape.Size]);
        Check(scores.Length == model.Classes, "a prediction has the wrong length");
        Check(Array.TrueForAll(scores, float.IsFinite), "a fresh model predicts a non-finite score");
        Accepted();
    }

    // What each step of the last input did, for replays: "accepted" or the refusal's message.
    private static readonly List<string> Outcomes = [];

    private static void Refused(Exception e) => Outcomes.Add($"refused: {e.Message.Split('\n')[0]}");

    private static void Accepted() => Outcomes.Add("accepted");

    private static void Check(bool condition, string problem)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"finding: {problem}");
        }
    }
}
