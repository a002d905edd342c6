using System.CommandLine;
using System.Globalization;
using System.Text;
using Convnet.Data;
using Convnet.Models;
using Spectre.Console;
using Convnet.Saving;

namespace Convnet.Cli.Commands;

internal static class PredictCommand
{
    public static Command Create()
    {
        var testCsv = new Argument<string>("TEST_CSV")
        {
            Description = "Kaggle-format CSV of images (pixel0..pixel783, or as many columns as the model's images have; a label column is ignored).",
            DefaultValueFactory = _ => "data/test.csv",
        };
        var model = Options.Model();
        var outPath = new Option<string>("--out", "-o")
        {
            Description = "Submission to write: ImageId,Label with ImageId from 1, the Label the class's name when the model names its classes (written to a temporary file, then renamed).",
            DefaultValueFactory = _ => "submission.csv",
        };
        var image = new Option<string?>("--image")
        {
            Description = "Classify one picture (PNG/JPEG) instead: it is converted to a centred 28×28 MNIST-style digit.",
        };
        var threads = Options.Threads();
        var tta = Options.Tta();
        var command = new Command("predict", "Predict the class of every row of a CSV and write a Kaggle submission (the digits, or the class names of a model that has them), or classify one image with --image.")
        {
            testCsv, model, outPath, image, threads, tta,
        };
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string modelPath = parse.GetValue(model)!;
            int t = Options.CheckThreads(parse.GetValue(threads));
            string? imagePath = parse.GetValue(image);
            int views = parse.GetValue(tta);
            if (imagePath is not null)
            {
                return PredictImage(imagePath, modelPath, t, views, output);
            }
            string csv = parse.GetValue(testCsv)!;
            string outFile = parse.GetValue(outPath)!;
            Cli.CheckExists(modelPath, "model");
            Cli.CheckWritable(outFile, "submission");
            using var net = Options.WithTta(ModelFile.LoadClassifier(modelPath, t).Model, views);
            var data = KaggleCsv.Read(csv, requireLabels: false, imageShape: net.InputShape);
            var classes = net.PredictClasses(data);
            var labels = new byte[classes.Length];
            for (int i = 0; i < labels.Length; i++)
            {
                labels[i] = (byte)classes[i];
            }
            KaggleCsv.WriteLabels(outFile, labels, net.ClassNames);
            output.WriteLine($"Wrote {labels.Length:N0} predictions to {outFile}.");
            return 0;
        }));
        return command;
    }

    internal static void CheckShape(IClassifier net, Dataset data, string path)
    {
        if (data.SampleShape != net.InputShape)
        {
            throw new UserError($"{path}: images are {data.SampleShape} but the model takes {net.InputShape}");
        }
    }

    private static int PredictImage(string imagePath, string modelPath, int threads, int views, TextWriter output)
    {
        Cli.CheckExists(modelPath, "model");
        var (gray, width, height) = ImageLoader.LoadGray(imagePath);
        float[] digit;
        try
        {
            digit = DigitImage.Preprocess(gray, width, height);
        }
        catch (ArgumentException e)
        {
            throw new UserError($"{imagePath}: {e.Message}");
        }
        using var net = Options.WithTta(ModelFile.LoadClassifier(modelPath, threads).Model, views);
        if (net.InputShape.Size != digit.Length)
        {
            throw new UserError($"the model takes {net.InputShape} images, not 28×28 grayscale digits");
        }
        var probabilities = net.Predict(digit);
        int best = Classifier.ArgMax(probabilities);
        var console = Ui.For(output);
        console.WriteLine(Render(digit));
        var chart = new BarChart().Width(60).Label("Probabilities");
        for (int k = 0; k < probabilities.Length; k++)
        {
            chart.AddItem(k.ToString(CultureInfo.InvariantCulture), Math.Round(probabilities[k] * 100, 2), k == best ? Color.Green : Color.Grey);
        }
        console.Write(chart);
        output.WriteLine($"Predicted digit: {best} ({probabilities[best]:P1})");
        return 0;
    }

    /// <summary>The 28×28 input as shaded blocks, two characters per pixel.</summary>
    internal static string Render(ReadOnlySpan<float> digit)
    {
        const string shades = " ░▒▓█";
        var sb = new StringBuilder();
        for (int y = 0; y < DigitImage.Side; y++)
        {
            for (int x = 0; x < DigitImage.Side; x++)
            {
                char c = shades[Math.Clamp((int)(digit[y * DigitImage.Side + x] * (shades.Length - 1) + 0.5f), 0, shades.Length - 1)];
                sb.Append(c).Append(c);
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
