using System.Globalization;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.Images;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using Spectre.Console;

namespace Convnet.Cli.Commands;

/// <summary>predict on pictures: image files and folders into a CSV table, or one picture shown with its classes (--image).</summary>
internal static class PredictImages
{
    public const string DefaultOut = "predictions.csv";

    /// <summary>Up to this many images, the predictions are also printed as a table.</summary>
    public const int TableLimit = 20;

    /// <summary>Classes charted by --image without --top (all of them when fewer).</summary>
    public const int ChartedClasses = 10;

    public const string DigitRule = PictureInput.DigitRule;

    public static string ExtensionList => string.Join(", ", ImageFolder.Extensions);

    /// <summary>Image input rather than a CSV: any argument is a folder (or ends in '/', as only a folder does) or a file with an image extension.</summary>
    public static bool AreImages(IReadOnlyList<string> inputs) =>
        inputs.Any(i => Directory.Exists(i) || ImageFolder.IsImageFile(i) || Path.EndsInDirectorySeparator(i));

    /// <summary>
    /// predict of image files and folders: every image resized and converted to the model's input,
    /// one row per image in <paramref name="outFile"/>, rows sorted by file.
    /// </summary>
    public static int Many(IReadOnlyList<string> inputs, string modelPath, string outFile, int? top, ImageFolderOptions options, int views, TextWriter output)
    {
        if (top < 1)
        {
            throw new UserError($"--top must be at least 1, got {top}");
        }
        var images = List(inputs);
        Cli.CheckExists(modelPath, "model");
        Cli.CheckWritable(outFile, "predictions");
        using var net = Options.WithTta(ModelFile.LoadClassifier(modelPath, options.Threads).Model, views);
        CheckTakesImages(net);
        DataInput.CheckAgainstModel(options, net);
        int k = top ?? 1;
        if (k > net.Classes)
        {
            throw new UserError($"--top must be at most the model's {net.Classes} classes, got {k}");
        }

        var read = ImageFolder.LoadFiles(images.Select(i => i.Path).ToList(), net.InputShape, options.SkipBadImages, options.Threads);
        var names = images.ToDictionary(i => i.Path, i => i.Name, StringComparer.Ordinal);
        if (read.Data.Count == 0)
        {
            throw new UserError($"none of the {images.Count:N0} images could be decoded; {outFile} not written");
        }
        var predictions = Predictions.Of(net, read.Data);
        var rows = read.Files.Select(f => names[f]).ToList();
        PredictionsCsv.Write(outFile, rows, predictions.Probabilities, net.Classes, net.ClassName, k);

        output.WriteLine($"Wrote {rows.Count:N0} prediction{(rows.Count == 1 ? "" : "s")} to {outFile}.");
        // Every skipped file, however many: they are the rows missing from the table.
        if (read.Skipped.Count > 0)
        {
            output.WriteLine($"Skipped {read.Skipped.Count:N0} file(s) that could not be decoded:");
            foreach (var skipped in read.Skipped)
            {
                output.WriteLine($"  {names[skipped.File]}: {skipped.Problem}");
            }
        }
        if (rows.Count <= TableLimit)
        {
            var table = new Table().AddColumns("file", "label").AddColumn(new TableColumn("probability").RightAligned());
            for (int i = 0; i < rows.Count; i++)
            {
                int best = predictions.Best[i];
                table.AddRow(Markup.Escape(rows[i]), Markup.Escape(net.ClassName(best)), Percent(predictions.Probability(i, best)));
            }
            Ui.For(output).Write(table);
        }
        return 0;
    }

    /// <summary>One image to read and the name its row gets.</summary>
    internal readonly record struct Image(string Path, string Name);

    /// <summary>
    /// The images of the arguments, sorted by name, each once: a folder's files named relative to
    /// it when it is the only argument, else with the folder as given in front (two folders may
    /// hold the same names); a file as given.
    /// </summary>
    internal static List<Image> List(IReadOnlyList<string> inputs)
    {
        var images = new List<Image>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
            {
                var files = ImageFolder.ListImages(input);
                if (files.Count == 0)
                {
                    throw new UserError($"folder '{input}' holds no images ({ExtensionList})");
                }
                foreach (string file in files)
                {
                    string relative = Path.GetRelativePath(input, file).Replace(Path.DirectorySeparatorChar, '/');
                    images.Add(new Image(file, inputs.Count == 1 ? relative : $"{input.TrimEnd('/', Path.DirectorySeparatorChar)}/{relative}"));
                }
            }
            else if (File.Exists(input))
            {
                if (Path.GetExtension(input).Equals(".csv", StringComparison.OrdinalIgnoreCase))
                {
                    throw new UserError($"'{input}' is a CSV; predict reads either one CSV or image files and folders, not both");
                }
                images.Add(new Image(input, input));
            }
            else
            {
                throw new UserError($"'{input}' not found (neither a file nor a folder)");
            }
        }
        // A file named twice (given directly and inside a given folder, or two spellings of one
        // path) is read once, under the first of its names in order.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return images.OrderBy(i => i.Name, StringComparer.Ordinal).Where(i => seen.Add(Path.GetFullPath(i.Path))).ToList();
    }

    /// <summary>
    /// predict --image: a digit model (see <see cref="DigitRule"/>) gets the picture as an MNIST
    /// digit, any other the picture resized and converted to its input (<see cref="PictureInput.Prepare(string, IClassifier)"/>). Shows what the model saw and its most probable classes.
    /// </summary>
    public static int One(string imagePath, string modelPath, int? top, int threads, int views, TextWriter output)
    {
        if (top < 1)
        {
            throw new UserError($"--top must be at least 1, got {top}");
        }
        Cli.CheckExists(modelPath, "model");
        Cli.CheckExists(imagePath, "image");
        using var net = Options.WithTta(ModelFile.LoadClassifier(modelPath, threads).Model, views);
        CheckTakesImages(net);
        if (top > net.Classes)
        {
            throw new UserError($"--top must be at most the model's {net.Classes} classes, got {top}");
        }
        var shape = net.InputShape;
        var (input, seen, digit) = PictureInput.Prepare(imagePath, net);
        var probabilities = net.Predict(input);
        int best = Classifier.ArgMax(probabilities);

        var console = Ui.For(output);
        TerminalImage.Write(console, seen, shape.Height, shape.Width, shape.Channels);
        var chart = new BarChart().Width(60).Label("Probabilities");
        foreach (int c in Charted(probabilities, top, digit))
        {
            chart.AddItem(Markup.Escape(net.ClassName(c)), Math.Round(probabilities[c] * 100, 2), c == best ? Color.Green : Color.Grey);
        }
        console.Write(chart);
        output.WriteLine(digit
            ? $"Predicted digit: {best} ({Percent(probabilities[best])})"
            : $"Predicted class: {net.ClassName(best)} ({Percent(probabilities[best])})");
        return 0;
    }

    /// <summary>A model made for MNIST-style digits (<see cref="PictureInput.IsDigitModel"/>).</summary>
    public static bool IsDigitModel(IClassifier net) => PictureInput.IsDigitModel(net);

    /// <summary>
    /// The classes to chart: with --top the K most probable, most probable first; without, a digit
    /// model's 10 in order, another model's <see cref="ChartedClasses"/> most probable.
    /// </summary>
    private static int[] Charted(ReadOnlySpan<float> probabilities, int? top, bool digit)
    {
        if (top is null && digit)
        {
            return [.. Enumerable.Range(0, probabilities.Length)];
        }
        var order = new int[top ?? Math.Min(ChartedClasses, probabilities.Length)];
        PredictionsCsv.TopClasses(probabilities, order);
        return order;
    }

    private static void CheckTakesImages(IClassifier net)
    {
        if (!net.InputShape.IsImage || net.InputShape.Channels is not (1 or 3))
        {
            throw new UserError($"the model takes {net.InputShape}, not images of 1 or 3 channels");
        }
    }

    private static string Percent(float p) => p.ToString("P1", CultureInfo.InvariantCulture);
}
