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
        var csv = new Argument<string>("DATA_CSV") { Description = "Kaggle-format CSV of images, with or without a label column." };
        var rows = new Option<string>("--rows", "-r")
        {
            HelpName = "START:END",
            Description = "Rows to draw, START:END counting from 0, END excluded (Python's slice); ':10', '100:' and '7' also work. At most 1,024 images.",
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
        var command = new Command("show", "Draw rows of a CSV as a grid of captioned images (PNG): the label, and with --model the prediction and its probability, wrong ones in red.")
        {
            csv, rows, model, outPath, columns, threads,
        };
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string csvPath = parse.GetValue(csv)!;
            string outFile = parse.GetValue(outPath)!;
            string? modelPath = parse.GetValue(model);
            int cols = parse.GetValue(columns);
            int t = Options.CheckThreads(parse.GetValue(threads));
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
            var data = KaggleCsv.Read(csvPath, requireLabels: false);
            var (start, end) = ParseRows(rowsText, data.Count);
            var selected = data.Subset(Enumerable.Range(start, end - start).ToArray());

            Predictions? predictions = null;
            IReadOnlyList<string>? names = selected.ClassNames;
            if (modelPath is not null)
            {
                using var net = ModelFile.LoadClassifier(modelPath, t).Model;
                PredictCommand.CheckShape(net, selected, csvPath);
                selected = ClassMatching.ForModel(selected, net, csvPath);
                names = net.ClassNames ?? names;
                predictions = Predictions.Of(net, selected);
            }
            string Name(int c) => names is not null && (uint)c < (uint)names.Count ? names[c] : c.ToString(CultureInfo.InvariantCulture);

            var cells = new List<GridCell>(selected.Count);
            int wrong = 0;
            for (int i = 0; i < selected.Count; i++)
            {
                var lines = new List<Caption> { new($"row {start + i}", Drawing.Muted) };
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
                    string text = string.Create(CultureInfo.InvariantCulture, $"{(isWrong ? "✗ " : "")}pred {Name(p)} ({Percent(predictions.Probability(i, p))})");
                    lines.Add(new Caption(text, isWrong ? Drawing.Wrong : selected.HasLabels ? Drawing.Right : Drawing.Ink, Bold: isWrong));
                }
                cells.Add(new GridCell(i, lines, isWrong));
            }

            string title = $"{Path.GetFileName(csvPath)}, rows {start}–{end - 1}";
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
            throw new UserError($"--rows '{text}': the file has {count:N0} rows (0 to {count - 1})");
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
