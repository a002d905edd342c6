using System.CommandLine;
using System.Globalization;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.Models;
using Spectre.Console;
using Convnet.Saving;

namespace Convnet.Cli.Commands;

internal static class EvaluateCommand
{
    public static Command Create()
    {
        var csv = new Argument<string?>("DATA")
        {
            Description = "The labelled images: a Kaggle-format CSV with a label column (or an unlabelled one together with --labels), "
                + "or a folder with one subfolder of images per class, named as the model's classes (read at the model's input size and channels).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var model = Options.Model();
        var labels = new Option<string?>("--labels") { Description = "ImageId,Label file with the true labels (e.g. data/test_labels.csv)." };
        var submission = new Option<string?>("--submission") { Description = "Score this ImageId,Label submission against --labels instead of running a model." };
        var threads = Options.Threads();
        var tta = Options.Tta();
        var images = new ImageOptions(forModel: true);
        var report = new Option<string?>("--report")
        {
            HelpName = "DIR",
            Description = "Also write an HTML report to this folder: DIR/index.html with the scores, the confusion matrix as a clickable heat map, the most confident mistakes, the errors of each pair, the training curves and the architecture (PNGs beside it; works offline).",
        };
        var command = new Command("evaluate", "Accuracy, per-class precision/recall/F1 and the confusion matrix of a model on labelled data, or of a submission file; --report DIR also writes them as an HTML page with pictures.")
        {
            csv, model, labels, submission, threads, tta, report,
        };
        images.AddTo(command);
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string? labelsPath = parse.GetValue(labels);
            string? submissionPath = parse.GetValue(submission);
            string? csvPath = parse.GetValue(csv);
            string? reportDir = parse.GetValue(report);
            byte[] truth, predicted;
            if (submissionPath is not null)
            {
                if (labelsPath is null)
                {
                    throw new UserError("--submission needs --labels with the true labels");
                }
                if (reportDir is not null)
                {
                    throw new UserError("--report needs the images and a model: give DATA --model M (or CSV --labels L --model M), not --submission");
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
                    throw new UserError("give a labelled CSV to evaluate, or a folder of class folders (or --submission S --labels L)");
                }
                string modelPath = parse.GetValue(model)!;
                Cli.CheckExists(modelPath, "model");
                if (reportDir is not null)
                {
                    HtmlReport.CheckFolder(reportDir);
                }
                int threadCount = Options.CheckThreads(parse.GetValue(threads));
                var imageOptions = images.Read(parse, threadCount);
                Dataset data;
                IClassifier loaded;
                IReadOnlyDictionary<string, string> metadata;
                if (DataInput.IsFolder(csvPath))
                {
                    if (labelsPath is not null)
                    {
                        throw new UserError($"--labels is for a CSV without labels; the labels of folder {csvPath} are its class folders");
                    }
                    (loaded, metadata) = ModelFile.LoadClassifier(modelPath, threadCount);
                    try
                    {
                        var read = DataInput.ReadLabelled(csvPath, imageOptions, loaded);
                        output.WriteLine($"{DataInput.Describe(read, csvPath)}.");
                        DataInput.ReportLeftOut(read, output);
                        data = read.Data;
                    }
                    catch
                    {
                        loaded.Dispose();
                        throw;
                    }
                }
                else
                {
                    data = DataInput.Read(csvPath, imageOptions).Data;
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
                    (loaded, metadata) = ModelFile.LoadClassifier(modelPath, threadCount);
                }
                int views = parse.GetValue(tta);
                using (var net = Options.WithTta(loaded, views))
                {
                    if (views > 1)
                    {
                        output.WriteLine($"Test-time augmentation: the mean over {views} views of each image.");
                    }
                    PredictCommand.CheckShape(net, data, csvPath);
                    truth = data.Labels!;
                    ReportInput? reportInput = null;
                    Predictions? predictions = null;
                    IReadOnlyList<MemberScore>? memberScores = null;
                    if (loaded is Ensemble ensemble)
                    {
                        // Each member's probabilities once (over the views with --tta): its own accuracy, then their mean, the ensemble's prediction.
                        var perMember = views == 1 ? ensemble.PredictMembers(data)
                            : [.. ensemble.Members.Select(m => new TestTimeAugmentation(m, views).Predict(data))];
                        memberScores = MemberScores(perMember, ensemble.Classes, truth, metadata);
                        PrintMembers(memberScores, output);
                        predictions = Predictions.FromProbabilities(Ensemble.Mean(perMember), ensemble.Classes);
                        predicted = predictions.BestAsBytes();
                        output.WriteLine($"Ensemble of {perMember.Length} (the mean of the members' probabilities):");
                    }
                    else if (reportDir is null)
                    {
                        predicted = net.PredictClasses(data).Select(c => (byte)c).ToArray();
                    }
                    else
                    {
                        predictions = Predictions.Of(net, data);
                        predicted = predictions.BestAsBytes();
                    }
                    if (reportDir is not null)
                    {
                        reportInput = new ReportInput(modelPath, csvPath, labelsPath, data, predictions!, Evaluation.Of(truth, predicted), loaded, metadata) { MemberScores = memberScores };
                    }
                    Report(truth, predicted, output, data.ClassNames);
                    if (reportInput is not null)
                    {
                        string index = HtmlReport.Write(reportDir!, reportInput);
                        output.WriteLine($"Wrote the report to {index}.");
                    }
                }
                return 0;
            }
            Report(truth, predicted, output);
            return 0;
        }));
        return command;
    }

    /// <summary>Each member's accuracy alone, from its probabilities [count, classes], with its seed from the metadata.</summary>
    internal static List<MemberScore> MemberScores(float[][] perMember, int classes, byte[] truth, IReadOnlyDictionary<string, string> metadata)
    {
        var scores = new List<MemberScore>(perMember.Length);
        for (int k = 0; k < perMember.Length; k++)
        {
            int correct = 0;
            for (int i = 0; i < truth.Length; i++)
            {
                correct += Classifier.ArgMax(perMember[k].AsSpan(i * classes, classes)) == truth[i] ? 1 : 0;
            }
            string seed = ModelFile.MemberMetadata(metadata, k).TryGetValue("seed", out var s) ? s : "";
            scores.Add(new MemberScore($"member{k}", seed, correct, truth.Length));
        }
        return scores;
    }

    private static void PrintMembers(IReadOnlyList<MemberScore> scores, TextWriter output)
    {
        var table = new Table().Title("Each member alone").AddColumns("member", "seed", "accuracy", "errors");
        foreach (var m in scores)
        {
            table.AddRow(m.Member, Markup.Escape(m.Seed), m.Accuracy.ToString("P2", CultureInfo.InvariantCulture), (m.Total - m.Correct).ToString(CultureInfo.InvariantCulture));
        }
        Ui.For(output).Write(table);
    }

    /// <summary>The scores; rows and columns named by <paramref name="classNames"/> when given, else numbered.</summary>
    internal static void Report(byte[] truth, byte[] predicted, TextWriter output, IReadOnlyList<string>? classNames = null)
    {
        string Name(int c) => classNames is not null && c < classNames.Count ? classNames[c] : c.ToString(CultureInfo.InvariantCulture);
        var evaluation = Evaluation.Of(truth, predicted);
        int classes = evaluation.Classes;
        var confusion = evaluation.Confusion;
        var console = Ui.For(output);
        output.WriteLine($"Accuracy: {evaluation.Accuracy:P2} ({evaluation.Correct:N0} of {evaluation.Total:N0} correct, {evaluation.Errors:N0} errors)");

        var perClass = new Table().Title("Per class").AddColumns("class", "precision", "recall", "F1", "support");
        for (int c = 0; c < classes; c++)
        {
            var s = evaluation.Scores(c);
            perClass.AddRow(Markup.Escape(Name(c)), s.Precision.ToString("F4", CultureInfo.InvariantCulture), s.Recall.ToString("F4", CultureInfo.InvariantCulture), s.F1.ToString("F4", CultureInfo.InvariantCulture), s.Support.ToString(CultureInfo.InvariantCulture));
        }
        console.Write(perClass);

        var matrix = new Table().Title("Confusion matrix (rows: true, columns: predicted)");
        matrix.AddColumn("");
        for (int c = 0; c < classes; c++)
        {
            matrix.AddColumn(new TableColumn(Markup.Escape(Name(c))).RightAligned());
        }
        for (int r = 0; r < classes; r++)
        {
            var cells = new string[classes + 1];
            cells[0] = Markup.Escape(Name(r));
            for (int c = 0; c < classes; c++)
            {
                cells[c + 1] = confusion[r, c].ToString(CultureInfo.InvariantCulture);
            }
            matrix.AddRow(cells);
        }
        console.Write(matrix);
    }
}
