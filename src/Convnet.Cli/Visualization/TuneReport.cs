using System.Globalization;
using System.Net;
using System.Text;
using Convnet.IO;
using Convnet.Models;
using Convnet.Tuning;
using ScottPlot;

namespace Convnet.Cli.Visualization;

/// <summary>
/// A search's report: <c>report.html</c> with the leaderboard, a PNG per parameter of the mean
/// validation accuracy of every trial against the parameter's value, and the validation curves of
/// the best trials.
/// </summary>
internal static class TuneReport
{
    public const string ReportFile = "report.html";
    public const string CurvesFile = "curves.png";
    public const int BestCurves = 5;
    private const int Width = 900;
    private const int Height = 520;

    private static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

    /// <summary>The PNG of the accuracy against parameter <paramref name="name"/>: "accuracy-lr.png", "accuracy-arch-1.png".</summary>
    public static string ParameterFile(string name) => "accuracy-" + new string([.. name.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-')]).Trim('-') + ".png";

    /// <summary>Writes the report and its PNGs into <paramref name="dir"/>; returns the path of report.html.</summary>
    public static string Write(string dir, SearchSpace space, TuningResult result, TuneMetric metric, string dataName)
    {
        string Out(string file) => Path.Combine(dir, file);
        // Like with like: every trial's first-rung result (successive halving's later rungs train longer).
        var firstRung = result.All.Where(r => r.Rung == 0 && r.Succeeded).ToList();
        var plots = new List<(string Name, string File)>();
        for (int i = 0; i < space.Parameters.Count; i++)
        {
            var parameter = space.Parameters[i];
            if (firstRung.Count == 0)
            {
                break;
            }
            string file = ParameterFile(parameter.Name);
            AtomicFile.WriteAllBytes(Out(file), RenderParameter(parameter, i, firstRung, result.Rungs[0].Epochs));
            plots.Add((parameter.Name, file));
        }
        var best = result.Leaderboard.Where(r => r.Succeeded).Take(BestCurves).ToList();
        bool curves = best.Count > 0;
        if (curves)
        {
            AtomicFile.WriteAllBytes(Out(CurvesFile), RenderCurves(best));
        }
        string report = Out(ReportFile);
        AtomicFile.WriteAllText(report, Html(space, result, metric, dataName, plots, curves));
        return report;
    }

    private static double Value(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static byte[] RenderParameter(SearchParameter parameter, int index, IReadOnlyList<TrialResult> results, int? epochs)
    {
        Drawing.ConfigureScottPlot();
        var plot = new Plot();
        string budget = epochs is { } e ? $" ({e} epoch{(e == 1 ? "" : "s")} each)" : "";
        plot.Title($"val_accuracy against {parameter.Name}{budget}", 16);
        plot.YLabel("mean val_accuracy", 14);
        double[] ys = [.. results.Select(r => r.MeanAccuracy)];
        double[] xs;
        bool categories = !parameter.Domain.IsNumeric;
        bool log = false;
        if (!categories)
        {
            xs = [.. results.Select(r => Value(r.Trial.Point[index]))];
            // A log range, or positive values a decade or more apart (lists of rates), on a log axis.
            log = parameter.Domain.IsLog || (xs.Min() > 0 && xs.Max() / xs.Min() >= 10);
            if (log)
            {
                xs = [.. xs.Select(Math.Log10)];
                plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
                {
                    LabelFormatter = v => Math.Pow(10, v).ToString("G3", CultureInfo.InvariantCulture),
                };
            }
        }
        else
        {
            var values = parameter.Domain.Values!;
            xs = [.. results.Select(r => (double)IndexOf(values, r.Trial.Point[index]))];
            var ticks = new ScottPlot.TickGenerators.NumericManual();
            for (int i = 0; i < values.Count; i++)
            {
                ticks.AddMajor(i, values[i].Length > 24 ? values[i][..23] + "…" : values[i]);
            }
            plot.Axes.Bottom.TickGenerator = ticks;
        }
        plot.XLabel(parameter.Name + (log ? " (log scale)" : ""), 14);
        var scatter = plot.Add.ScatterPoints(xs, ys, ScottPlot.Color.FromHex(Palette[0]));
        scatter.MarkerSize = 10;
        scatter.MarkerShape = MarkerShape.FilledCircle;
        plot.Axes.AutoScale();
        double left = xs.Min(), right = xs.Max(), bottom = ys.Min(), top = ys.Max();
        double padX = categories ? 0.5 : right > left ? (right - left) * 0.08 : Math.Max(Math.Abs(left) * 0.1, 0.01);
        double padY = Math.Max(0.002, (top - bottom) * 0.1);
        plot.Axes.SetLimits(left - padX, right + padX, Math.Max(0, bottom - padY), Math.Min(1.005, top + padY));
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = v => (100 * v).ToString("0.##", CultureInfo.InvariantCulture) + "%",
        };
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    private static int IndexOf(IReadOnlyList<string> values, string value)
    {
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i] == value)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>The validation accuracy per epoch of each of the best trials, averaged over the folds.</summary>
    private static byte[] RenderCurves(IReadOnlyList<TrialResult> best)
    {
        Drawing.ConfigureScottPlot();
        var plot = new Plot();
        plot.Title($"val_accuracy per epoch of the {best.Count} best trial{(best.Count == 1 ? "" : "s")}", 16);
        plot.XLabel("epoch", 14);
        plot.YLabel("val_accuracy (mean over folds)", 14);
        int longest = 1;
        for (int i = 0; i < best.Count; i++)
        {
            var r = best[i];
            int epochs = r.Folds.Min(f => f.History.Count);
            double[] xs = [.. Enumerable.Range(1, epochs).Select(e => (double)e)];
            double[] ys = [.. Enumerable.Range(0, epochs).Select(e => r.Folds.Average(f => f.History[e].ValidationAccuracy))];
            var line = plot.Add.Scatter(xs, ys, ScottPlot.Color.FromHex(Palette[i % Palette.Length]));
            longest = Math.Max(longest, epochs);
            line.LegendText = string.Create(CultureInfo.InvariantCulture, $"#{i + 1}: trial {r.Trial.Index} ({100 * r.MeanAccuracy:F2}%)");
            line.LineWidth = 2.5f;
            line.MarkerSize = 7;
        }
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = v => (100 * v).ToString("0.##", CultureInfo.InvariantCulture) + "%",
        };
        // Whole epochs only.
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        int step = Math.Max(1, (int)Math.Ceiling(longest / 12.0));
        for (int e = 1; e <= longest; e += step)
        {
            ticks.AddMajor(e, e.ToString(CultureInfo.InvariantCulture));
        }
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsX(0.5, longest + 0.5);
        plot.ShowLegend(Edge.Bottom);
        plot.Legend.FontSize = 13;
        return plot.GetImageBytes(Width + 300, Height, ImageFormat.Png);
    }

    private static string H(string text) => WebUtility.HtmlEncode(text);

    private static string Html(SearchSpace space, TuningResult result, TuneMetric metric, string dataName, List<(string Name, string File)> plots, bool curves)
    {
        var sb = new StringBuilder();
        void L(string line) => sb.Append(line).Append('\n');
        L("<!DOCTYPE html>");
        L("<html lang=\"en\">");
        L("<head>");
        L("<meta charset=\"utf-8\">");
        L("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        L($"<title>Hyperparameter search on {H(dataName)}</title>");
        L("<style>");
        L(Css);
        L("</style>");
        L("</head>");
        L("<body>");
        L($"<h1>Hyperparameter search on {H(dataName)}</h1>");
        string state = result.OutOfTime ? " The time budget ran out before the strategy finished." : "";
        L(string.Create(CultureInfo.InvariantCulture, $"<p class=\"meta\">{result.Leaderboard.Count} trials in {result.Rungs.Count} rung(s), ranked by {Tuner.MetricName(metric)}; this run took {result.Seconds:F1} s ({result.Resumed} results from an earlier run).{state}</p>"));
        if (result.Best is { } best)
        {
            L($"<p>Best: trial {best.Trial.Index} — <code>{H(space.Format(best.Trial.Point))}</code></p>");
            L(string.Create(CultureInfo.InvariantCulture, $"<p class=\"big\">{100 * best.MeanAccuracy:F2}%</p>"));
        }
        if (space.Fixed.Count > 0)
        {
            L($"<p class=\"meta\">Fixed: <code>{H(string.Join(" ", space.Fixed.Select(f => $"--{f.Key} {f.Value}")))}</code></p>");
        }
        L("<h2>Leaderboard</h2>");
        L("<div class=\"scroll\"><table>");
        var columns = Leaderboard.Columns(space);
        L("<tr>" + string.Concat(columns.Select(c => $"<th>{H(c)}</th>")) + "</tr>");
        foreach (var row in Leaderboard.Rows(space, result.Leaderboard))
        {
            L("<tr>" + string.Concat(row.Select((cell, i) => columns[i] is "arch" or "failure" ? $"<td class=\"name\">{H(cell)}</td>" : $"<td>{H(cell)}</td>")) + "</tr>");
        }
        L("</table></div>");
        if (plots.Count > 0)
        {
            L("<h2>Accuracy against each parameter</h2>");
            foreach (var (name, file) in plots)
            {
                L($"<p><img src=\"{H(file)}\" alt=\"val_accuracy against {H(name)}\"></p>");
            }
        }
        if (curves)
        {
            L("<h2>The best trials' curves</h2>");
            L($"<p><img src=\"{CurvesFile}\" alt=\"validation accuracy per epoch of the best trials\"></p>");
        }
        L("</body>");
        L("</html>");
        return sb.ToString();
    }

    private const string Css = """
        body { font-family: "DejaVu Sans", system-ui, sans-serif; color: #202020; background: #fff; margin: 24px auto; max-width: 1240px; padding: 0 16px; line-height: 1.45; }
        h1 { font-size: 1.6em; margin-bottom: 0.2em; }
        h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
        code { font-family: "DejaVu Sans Mono", monospace; font-size: 0.92em; }
        .meta { color: #555; }
        .big { font-size: 2.6em; font-weight: bold; margin: 0.1em 0; }
        table { border-collapse: collapse; margin: 0.8em 0; }
        th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: right; }
        th { background: #f2f2f2; }
        td.name { text-align: left; max-width: 24em; overflow-wrap: anywhere; }
        img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
        .scroll { overflow-x: auto; }
        """;
}
