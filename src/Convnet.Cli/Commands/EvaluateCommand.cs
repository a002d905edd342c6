using System.CommandLine;
using System.Globalization;
using Convnet.Data;
using Convnet.Models;
using Spectre.Console;

namespace Convnet.Cli.Commands;

internal static class EvaluateCommand
{
    public static Command Create()
    {
        var csv = new Argument<string?>("LABELLED_CSV")
        {
            Description = "Kaggle-format CSV with a label column, or an unlabelled one together with --labels.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var model = Options.Model();
        var labels = new Option<string?>("--labels") { Description = "ImageId,Label file with the true labels (e.g. data/test_labels.csv)." };
        var submission = new Option<string?>("--submission") { Description = "Score this ImageId,Label submission against --labels instead of running a model." };
        var threads = Options.Threads();
        var command = new Command("evaluate", "Accuracy, per-class precision/recall/F1 and the confusion matrix of a model on labelled data, or of a submission file.")
        {
            csv, model, labels, submission, threads,
        };
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string? labelsPath = parse.GetValue(labels);
            string? submissionPath = parse.GetValue(submission);
            string? csvPath = parse.GetValue(csv);
            byte[] truth, predicted;
            if (submissionPath is not null)
            {
                if (labelsPath is null)
                {
                    throw new UserError("--submission needs --labels with the true labels");
                }
                predicted = KaggleCsv.ReadLabels(submissionPath);
                truth = KaggleCsv.ReadLabels(labelsPath);
                if (predicted.Length != truth.Length)
                {
                    throw new UserError($"{submissionPath} has {predicted.Length:N0} rows but {labelsPath} has {truth.Length:N0}");
                }
            }
            else
            {
                if (csvPath is null)
                {
                    throw new UserError("give a labelled CSV to evaluate (or --submission S --labels L)");
                }
                string modelPath = parse.GetValue(model)!;
                Cli.CheckExists(modelPath, "model");
                var data = KaggleCsv.Read(csvPath, requireLabels: false);
                if (labelsPath is not null)
                {
                    var given = KaggleCsv.ReadLabels(labelsPath);
                    if (given.Length != data.Count)
                    {
                        throw new UserError($"{csvPath} has {data.Count:N0} rows but {labelsPath} has {given.Length:N0}");
                    }
                    data = new Dataset(data.Pixels, given, data.SampleShape);
                }
                else if (!data.HasLabels)
                {
                    throw new UserError($"{csvPath} has no label column; pass the true labels with --labels");
                }
                using var net = ModelFile.Load(modelPath, Options.CheckThreads(parse.GetValue(threads))).Model;
                PredictCommand.CheckShape(net, data, csvPath);
                truth = data.Labels!;
                predicted = net.PredictClasses(data).Select(c => (byte)c).ToArray();
            }
            Report(truth, predicted, output);
            return 0;
        }));
        return command;
    }

    internal static void Report(byte[] truth, byte[] predicted, TextWriter output)
    {
        int classes = Math.Max(truth.Max(), predicted.Max()) + 1;
        var confusion = new int[classes, classes];
        int correct = 0;
        for (int i = 0; i < truth.Length; i++)
        {
            confusion[truth[i], predicted[i]]++;
            correct += truth[i] == predicted[i] ? 1 : 0;
        }
        var console = Ui.For(output);
        output.WriteLine($"Accuracy: {(double)correct / truth.Length:P2} ({correct:N0} of {truth.Length:N0} correct, {truth.Length - correct:N0} errors)");

        var perClass = new Table().Title("Per class").AddColumns("class", "precision", "recall", "F1", "support");
        for (int c = 0; c < classes; c++)
        {
            int tp = confusion[c, c], actual = 0, predictedCount = 0;
            for (int k = 0; k < classes; k++)
            {
                actual += confusion[c, k];
                predictedCount += confusion[k, c];
            }
            double precision = predictedCount == 0 ? 0 : (double)tp / predictedCount;
            double recall = actual == 0 ? 0 : (double)tp / actual;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass.AddRow(c.ToString(CultureInfo.InvariantCulture), precision.ToString("F4", CultureInfo.InvariantCulture), recall.ToString("F4", CultureInfo.InvariantCulture), f1.ToString("F4", CultureInfo.InvariantCulture), actual.ToString(CultureInfo.InvariantCulture));
        }
        console.Write(perClass);

        var matrix = new Table().Title("Confusion matrix (rows: true, columns: predicted)");
        matrix.AddColumn("");
        for (int c = 0; c < classes; c++)
        {
            matrix.AddColumn(new TableColumn(c.ToString(CultureInfo.InvariantCulture)).RightAligned());
        }
        for (int r = 0; r < classes; r++)
        {
            var cells = new string[classes + 1];
            cells[0] = r.ToString(CultureInfo.InvariantCulture);
            for (int c = 0; c < classes; c++)
            {
                cells[c + 1] = confusion[r, c].ToString(CultureInfo.InvariantCulture);
            }
            matrix.AddRow(cells);
        }
        console.Write(matrix);
    }
}
