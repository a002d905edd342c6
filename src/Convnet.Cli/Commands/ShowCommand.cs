using System.CommandLine;
using System.Globalization;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.Models;
using Convnet.IO;
using Convnet.Saving;

namespace Convnet.Cli.Commands;

internal static class ShowCommand
{
    public const int MaxImages = 1024;

    public static Command Create()
    {
        var dataArgument = new Argument<string>("DATA")
        {
            Description = "The images: a Kaggle-format CSV, with or without a label column, or a folder with one subfolder of images per class "
                + "(with --model read at the model's input size and channels, its classes named as the model's).",
        };
        var rows = new Option<string>("--rows", "-r")
        {
            HelpName = "START:END",
            Description = "Rows to draw, START:END counting from 0, END excluded (Python's slice); ':10', '100:' and '7' also work. At most 1,024 images. A folder's rows are its images in class order, then file order.",
            DefaultValueFactory = _ => "0:64",
        };
        var model = new Option<string?>("--model", "-m") { HelpName = "MODEL", Description = "Also caption each image with this model's (or ensemble's) prediction and its probability; wrong ones are framed in red." };
        var outPath = new Option<string>("--out", "-o")
        {
            HelpName = "PNG",
            Description = "PNG to write (written to a temporary file, then renamed).",
            DefaultValueFactory = _ => "grid.png",
        };
        var columns = new Option<int>("--columns") { Description = "Images per row (1-16).", DefaultValueFactory = _ => 8 };
        var threads = Options.Threads();
        var images = new ImageOptions();
        var command = new Command("show", "Draw rows of a CSV or the images of a folder as a grid of captioned pictures (PNG, in colour when the images have three channels): the label, and with --model the prediction and its probability, wrong ones in red.")
        {
            dataArgument, rows, model, outPath, columns, threads,
        };
        images.AddTo(command);
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string dataPath = parse.GetValue(dataArgument)!;
            string outFile = parse.GetValue(outPath)!;
            string? modelPath = parse.GetValue(model);
            int cols = parse.GetValue(columns);
            int t = Options.CheckThreads(parse.GetValue(threads));
            var imageOptions = images.Read(parse, t);
            if (cols is < 1 or > ImageGrid.MaxColumns)
            {
                throw new UserError($"--columns must be between 1 and {ImageGrid.MaxColumns}, got {cols}");
            }
            if (modelPath is not null)
            {
                Cli.CheckExists(modelPath, "model");
            }
            Cli.CheckWritable(outFile, "image");
            string rowsText = parse.GetValue(rows)!;

            // The model first: a folder is read at its input shape, with its classes.
            using var net = modelPath is null ? null : ModelFile.LoadClassifier(modelPath, t).Model;
            var read = DataInput.Read(dataPath, imageOptions, net);
            DataInput.ReportLeftOut(read, output);
            var data = read.Data;
            var (start, end) = ParseRows(rowsText, data.Count);
            var selected = data.Subset(Enumerable.Range(start, end - start).ToArray());

            Predictions? predictions = null;
            IReadOnlyList<string>? names = selected.ClassNames;
            if (net is not null)
            {
                PredictCommand.CheckShape(net, selected, dataPath);
                selected = ClassMatching.ForModel(selected, net, dataPath);
                names = net.ClassNames ?? names;
                predictions = Predictions.Of(net, selected);
            }
            string Name(int c) => names is not null && (uint)c < (uint)names.Count ? names[c] : c.ToString(CultureInfo.InvariantCulture);

            var cells = new List<GridCell>(selected.Count);
            int wrong = 0;
            for (int i = 0; i < selected.Count; i++)
            {
                // A folder's image is captioned with its file name (the class is on the next line).
                string where = read.Folder is { } folder ? $"{start + i}: {Path.GetFileName(folder.Files[start + i])}" : $"row {start + i}";
                var lines = new List<Caption> { new(where, Drawing.Muted) };
                if (selected.HasLabels)
                {
                    lines.Add(new Caption($"label {Name(selected.Label(i))}", Drawing.Ink, Bold: true));
                }
                bool isWrong = false;
                if (predictions is not null)
                {
                    int p = predictions.Best[i];
                    isWrong = selected.HasLabels && p != selected.Label(i);
                    wrong += isWrong ? 1 : 0;
                    string text = $"pred {Name(p)}"; // a wrong one is framed and written in red
                    lines.Add(new Caption(text, isWrong ? Drawing.Wrong : selected.HasLabels ? Drawing.Right : Drawing.Ink, Bold: isWrong, Suffix: $" ({Percent(predictions.Probability(i, p))})"));
                }
                cells.Add(new GridCell(i, lines, isWrong));
            }

            string title = $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(dataPath))}, rows {start}–{end - 1}";
            if (predictions is not null)
            {
                title += selected.HasLabels
                    ? $": {Path.GetFileName(modelPath)} gets {selected.Count - wrong} of {selected.Count} right"
                    : $": predictions of {Path.GetFileName(modelPath)}";
            }
            var legend = new List<LegendEntry>();
            if (selected.HasLabels)
            {
                legend.Add(new LegendEntry("label: the true class", Drawing.Ink));
            }
            if (predictions is not null)
            {
                legend.Add(new LegendEntry("pred: model's class (probability)", selected.HasLabels ? Drawing.Right : Drawing.Ink));
                if (selected.HasLabels)
                {
                    legend.Add(new LegendEntry("wrong", Drawing.Wrong));
                }
            }
            var png = ImageGrid.Render(selected, cells, title, legend, cols);
            AtomicFile.WriteAllBytes(outFile, png);
            string summary = predictions is not null && selected.HasLabels ? $"; {wrong} wrong" : "";
            output.WriteLine($"Wrote {selected.Count} images (rows {start}–{end - 1}) to {outFile}{summary}.");
            return 0;
        }));
        return command;
    }

    internal static string Percent(double p) => (100 * p).ToString("F1", CultureInfo.InvariantCulture) + "%";

    /// <summary>START:END (END excluded), :END, START:, or one row; checked against the row count.</summary>
    internal static (int Start, int End) ParseRows(string text, int count)
    {
        string t = text.Trim();
        int colon = t.IndexOf(':', StringComparison.Ordinal);
        int start, end;
        if (colon < 0)
        {
            start = Row(t, text);
            end = start + 1;
        }
        else
        {
            string a = t[..colon].Trim(), b = t[(colon + 1)..].Trim();
            start = a.Length == 0 ? 0 : Row(a, text);
            end = b.Length == 0 ? Math.Min(count, start + MaxImages) : Row(b, text);
        }
        if (start >= count)
        {
            throw new UserError($"--rows '{text}': the data has {count:N0} rows (0 to {count - 1})");
        }
        end = Math.Min(end, count);
        if (end <= start)
        {
            throw new UserError($"--rows '{text}': selects no rows (END is excluded, e.g. 0:64)");
        }
        if (end - start > MaxImages)
        {
            throw new UserError($"--rows '{text}': selects {end - start:N0} images; at most {MaxImages:N0} fit in one picture");
        }
        return (start, end);
    }

    private static int Row(string part, string whole) =>
        int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new UserError($"--rows '{whole}': expected START:END with whole numbers from 0, e.g. 0:64");
}
