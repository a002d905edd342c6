using System.CommandLine;
using Convnet.Data;
using Convnet.Models;
using Convnet.Saving;

using Convnet.Images;

namespace Convnet.Cli.Commands;

internal static class PredictCommand
{
    public const string DefaultCsv = "data/test.csv";
    public const string DefaultSubmission = "submission.csv";

    public static Command Create()
    {
        var inputs = new Argument<string[]>("INPUTS")
        {
            Description = $"A Kaggle-format CSV of images (pixel0..pixel783, or as many columns as the model's images have; a label column is ignored; default {DefaultCsv}), "
                + $"or image files and folders (every {PredictImages.ExtensionList} file under a folder, recursively; any folder or file with such an extension makes every argument a picture or folder).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var model = Options.Model();
        var outPath = new Option<string?>("--out", "-o")
        {
            Description = $"File to write (to a temporary file, then renamed). For a CSV: a Kaggle submission, ImageId,Label with ImageId from 1, the Label the class's name when the model names its classes (default {DefaultSubmission}). "
                + $"For images: file,label,probability, one row per image (default {PredictImages.DefaultOut}).",
        };
        var top = new Option<int?>("--top")
        {
            HelpName = "K",
            Description = "For images: also write the 2nd to K-th most probable classes (label2,probability2,...), 1 ≤ K ≤ the model's classes (default 1). "
                + "With --image: the number of classes charted (default 10, or all when fewer).",
        };
        var images = new ImageOptions(forModel: true);
        var image = new Option<string?>("--image")
        {
            Description = "Classify one picture (PNG, JPEG, GIF, BMP, WebP) and show it with the most probable classes. For a digit model "
                + $"({PredictImages.DigitRule}) it is made a centred 28×28 MNIST-style digit first; for any other model it is resized to the model's input and made grayscale or RGB as the model takes.",
        };
        var threads = Options.Threads();
        var tta = Options.Tta();
        var command = new Command("predict", "Predict classes: of a CSV's rows into a Kaggle submission, of image files and folders into a table (file,label,probability), or of one picture shown in the terminal (--image).")
        {
            inputs, model, outPath, top, image, threads, tta,
        };
        images.AddTo(command);
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string modelPath = parse.GetValue(model)!;
            int t = Options.CheckThreads(parse.GetValue(threads));
            string? imagePath = parse.GetValue(image);
            int views = parse.GetValue(tta);
            string[] given = parse.GetValue(inputs) ?? [];
            string? outFile = parse.GetValue(outPath);
            int? k = parse.GetValue(top);
            var imageOptions = images.Read(parse, t);
            if (imagePath is not null)
            {
                if (given.Length > 0)
                {
                    throw new UserError($"--image classifies one picture; give image files and folders without --image (got '{given[0]}' too)");
                }
                if (outFile is not null)
                {
                    throw new UserError("--out is not used with --image, which prints its result and writes no file");
                }
                if (imageOptions.FirstGiven() is { } option)
                {
                    throw new UserError($"{option} is for image files and folders; --image reads its picture at the model's input and refuses one it cannot decode");
                }
                return PredictImages.One(imagePath, modelPath, k, t, views, output);
            }
            if (PredictImages.AreImages(given))
            {
                return PredictImages.Many(given, modelPath, outFile ?? PredictImages.DefaultOut, k, imageOptions, views, output);
            }
            if (given.Length > 1)
            {
                throw new UserError($"predict reads one CSV at a time, got {given.Length}: {string.Join(", ", given.Select(g => $"'{g}'"))}");
            }
            string csv = given.Length == 1 ? given[0] : DefaultCsv;
            if (k is not null)
            {
                throw new UserError($"--top is for image files and folders; a CSV ('{csv}') gets a Kaggle submission, one label per image");
            }
            if (imageOptions.FirstGiven() is { } csvOption)
            {
                throw new UserError($"{csvOption} applies to image files and folders; {csv} is a CSV (its images are its rows)");
            }
            outFile ??= DefaultSubmission;
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
}
