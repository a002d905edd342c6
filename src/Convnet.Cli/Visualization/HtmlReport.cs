using System.Globalization;
using System.Net;
using System.Text;
using Convnet.Data;
using Convnet.Models;
using SkiaSharp;
using Convnet.IO;
using Convnet.Saving;

namespace Convnet.Cli.Visualization;

/// <summary>What the evaluation report is made of.</summary>
internal sealed record ReportInput(
    string ModelPath,
    string DataPath,
    string? LabelsPath,
    Dataset Data,
    Predictions Predictions,
    Evaluation Evaluation,
    IClassifier Model,
    IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>Each member's accuracy alone, for an ensemble; else null.</summary>
    public IReadOnlyList<MemberScore>? MemberScores { get; init; }

    /// <summary>The model whose architecture and training curves the report shows: the model itself, or an ensemble's member 0.</summary>
    public Sequential? Shown => Model switch
    {
        Sequential single => single,
        Ensemble ensemble => ensemble.Members[0],
        _ => null,
    };

    /// <summary>The shown model's own metadata: the file's, or the "member0." entries of an ensemble file (history, seed, ...).</summary>
    public IReadOnlyDictionary<string, string> ShownMetadata => Model is Ensemble ? ModelFile.MemberMetadata(Metadata, 0) : Metadata;

    /// <summary>For an image folder, each sample's file relative to the folder (in sample order), shown beside its row; else null.</summary>
    public IReadOnlyList<string>? Files { get; init; }

    /// <summary>The classes' names: the model's, else the data's; null when the classes are just numbers (also when the names are "0", "1", ..., a folder read for an unnamed model).</summary>
    public IReadOnlyList<string>? ClassNames => Model.ClassNames ?? (Data.ClassNames is { } names && !AreNumbers(names) ? names : null);

    private static bool AreNumbers(IReadOnlyList<string> names) =>
        names.Select((name, c) => name == c.ToString(CultureInfo.InvariantCulture)).All(same => same);

    /// <summary>Class <paramref name="c"/>'s name, or its number.</summary>
    public string ClassName(int c) => ClassNames is { } names && (uint)c < (uint)names.Count ? names[c] : c.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Writes <c>DIR/index.html</c> and the PNGs it shows: accuracy and per-class scores, the confusion
/// matrix as a clickable heat map, the most confident mistakes, the errors of each (true,
/// predicted) pair, the training curves and the architecture. Self-contained: no script, no
/// font or style from elsewhere. The pictures are written first and index.html last, each under
/// a temporary name and renamed.
/// </summary>
internal static class HtmlReport
{
    public const string IndexFile = "index.html";
    public const string ConfusionFile = "confusion.png";
    public const string MistakesFile = "mistakes.png";
    public const string CurvesFile = "curves.png";
    public const string ArchitectureFile = "architecture.png";
    public const int TopMistakes = 40;
    public const int PerPairMistakes = 24;

    public static string PairFile(int truth, int predicted) => string.Create(CultureInfo.InvariantCulture, $"errors-{truth}-{predicted}.png");

    public static string PairAnchor(int truth, int predicted) => string.Create(CultureInfo.InvariantCulture, $"errors-{truth}-{predicted}");

    /// <summary>Fails before any work if <paramref name="dir"/> cannot become the report folder.</summary>
    public static void CheckFolder(string dir)
    {
        string full = Path.GetFullPath(dir);
        if (File.Exists(full))
        {
            throw new UserError($"cannot write the report to '{dir}': it is a file (give a folder)");
        }
        string? parent = Path.GetDirectoryName(full.TrimEnd(Path.DirectorySeparatorChar));
        if (parent is null || !Directory.Exists(parent))
        {
            throw new UserError($"cannot write the report to '{dir}': folder '{parent}' does not exist");
        }
        Cli.CheckFolderWritable(dir, IndexFile, "the report");
        _ = Drawing.Regular; // no font: say so before the model runs
    }

    /// <summary>Writes the report; returns the path of index.html.</summary>
    public static string Write(string dir, ReportInput input)
    {
        Directory.CreateDirectory(dir);
        var e = input.Evaluation;
        var p = input.Predictions;
        var data = input.Data;
        string modelName = Path.GetFileName(input.ModelPath);
        string dataName = Path.GetFileName(input.DataPath);
        string Out(string file) => Path.Combine(dir, file);

        // Mistakes, most confident first; ties in sample order.
        var mistakes = Enumerable.Range(0, data.Count)
            .Where(i => p.Best[i] != data.Label(i))
            .OrderByDescending(i => p.Probability(i, p.Best[i]))
            .ThenBy(i => i)
            .ToList();

        var (confusionPng, cells) = ConfusionPlot.Render(e, string.Create(CultureInfo.InvariantCulture, $"Confusion matrix: {modelName} on {dataName} ({Percent(e.Accuracy, 2)} correct)"), input.ClassNames);
        AtomicFile.WriteAllBytes(Out(ConfusionFile), confusionPng);

        if (mistakes.Count > 0)
        {
            var top = mistakes.Take(TopMistakes).ToList();
            string title = string.Create(CultureInfo.InvariantCulture, $"The {top.Count} most confident of {mistakes.Count:N0} mistakes");
            AtomicFile.WriteAllBytes(Out(MistakesFile), ImageGrid.Render(data, top.Select(i => MistakeCell(input, i)).ToList(), title, GalleryLegend));
        }
        var pairs = Pairs(e);
        foreach (var (t, q, count) in pairs)
        {
            var shown = mistakes.Where(i => data.Label(i) == t && p.Best[i] == q).Take(PerPairMistakes).ToList();
            string title = string.Create(CultureInfo.InvariantCulture, $"True {input.ClassName(t)}, predicted {input.ClassName(q)}: {(shown.Count < count ? $"the {shown.Count} most confident of " : "")}{count:N0} image{(count == 1 ? "" : "s")}");
            AtomicFile.WriteAllBytes(Out(PairFile(t, q)), ImageGrid.Render(data, shown.Select(i => MistakeCell(input, i)).ToList(), title, GalleryLegend));
        }

        IReadOnlyList<EpochLog>? history = input.ShownMetadata.TryGetValue("history", out var json) ? HistoryJson.Read(json) : null;
        if (history is { Count: > 0 })
        {
            string arch = input.Metadata.TryGetValue("arch", out var a) ? a : "model";
            string trainFile = input.Metadata.TryGetValue("train_file", out var f) ? $" on {f}" : "";
            string member = input.Model is Ensemble e0 ? $", member 0 of {e0.Members.Count}" : "";
            AtomicFile.WriteAllBytes(Out(CurvesFile), CurvesPlot.Render(history, $"Training curves: {arch}{trainFile}{member}"));
        }
        if (input.Shown is { } architecture)
        {
            string member = input.Model is Ensemble e1 ? $", member 0 of {e1.Members.Count}" : "";
            AtomicFile.WriteAllBytes(Out(ArchitectureFile), ArchitectureDiagram.Render(architecture, $"Architecture of {modelName}{member}"));
        }

        string index = Out(IndexFile);
        AtomicFile.WriteAllText(index, Html(input, mistakes, pairs, cells, history is { Count: > 0 }));
        return index;
    }

    private static readonly IReadOnlyList<LegendEntry> GalleryLegend =
    [
        new("true label", Drawing.Ink),
        new("predicted (probability)", Drawing.Wrong),
        new("runner-up (probability)", Drawing.Muted),
    ];

    /// <summary>A mistake's caption: its row and true class, the prediction and the runner-up with their probabilities (names cut to the cell by the grid).</summary>
    private static GridCell MistakeCell(ReportInput input, int i)
    {
        var p = input.Predictions;
        int best = p.Best[i], second = p.RunnerUp[i];
        var lines = new List<Caption>(4);
        string row = string.Create(CultureInfo.InvariantCulture, $"row {i}");
        lines.Add(new Caption(input.Files is { } files ? $"{row}: {Path.GetFileName(files[i])}" : row, Drawing.Muted));
        lines.Add(new Caption($"true {input.ClassName(input.Data.Label(i))}", Drawing.Ink, Bold: true));
        lines.Add(new Caption($"pred {input.ClassName(best)}", Drawing.Wrong, Bold: true, Suffix: $" ({Percent(p.Probability(i, best))})"));
        lines.Add(new Caption($"2nd {input.ClassName(second)}", Drawing.Muted, Suffix: $" ({Percent(p.Probability(i, second))})"));
        return new GridCell(i, lines, Wrong: true);
    }

    /// <summary>Off-diagonal cells with errors, the most frequent first.</summary>
    private static List<(int True, int Predicted, int Count)> Pairs(Evaluation e)
    {
        var pairs = new List<(int, int, int)>();
        for (int t = 0; t < e.Classes; t++)
        {
            for (int q = 0; q < e.Classes; q++)
            {
                if (t != q && e.Confusion[t, q] > 0)
                {
                    pairs.Add((t, q, e.Confusion[t, q]));
                }
            }
        }
        return pairs.OrderByDescending(x => x.Item3).ThenBy(x => x.Item1).ThenBy(x => x.Item2).ToList();
    }

    private static string Percent(double p, int digits = 1) => (100 * p).ToString("F" + I(digits), CultureInfo.InvariantCulture) + "%";

    private static string H(string text) => WebUtility.HtmlEncode(text);

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Html(ReportInput input, List<int> mistakes, List<(int True, int Predicted, int Count)> pairs, SKRectI[,] cells, bool hasCurves)
    {
        var e = input.Evaluation;
        var p = input.Predictions;
        var data = input.Data;
        string modelName = Path.GetFileName(input.ModelPath);
        string dataName = Path.GetFileName(input.DataPath);
        var sb = new StringBuilder();
        void L(string line) => sb.Append(line).Append('\n');

        L("<!DOCTYPE html>");
        L("<html lang=\"en\">");
        L("<head>");
        L("<meta charset=\"utf-8\">");
        L("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        L($"<title>{H($"Evaluation of {modelName} on {dataName}")}</title>");
        L("<style>");
        L(Css);
        L("</style>");
        L("</head>");
        L("<body>");
        L($"<h1>Evaluation of <code>{H(modelName)}</code> on <code>{H(dataName)}</code></h1>");
        string labels = input.LabelsPath is null ? "" : $", labels from <code>{H(Path.GetFileName(input.LabelsPath))}</code>";
        string size = input.Model is Ensemble ensemble
            ? $"an ensemble of {ensemble.Members.Count} models, {input.Model.ParameterCount:N0} parameters in all"
            : $"{input.Model.ParameterCount:N0} parameters";
        L($"<p class=\"meta\">{data.Count:N0} images{labels}; model <code>{H(input.ModelPath)}</code> ({size}). Written by <code>convnet evaluate</code> on {DateTime.Now.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}.</p>");
        L("<nav><a href=\"#accuracy\">Accuracy</a> · <a href=\"#per-class\">Per class</a> · <a href=\"#confusion\">Confusion matrix</a> · <a href=\"#mistakes\">Most confident mistakes</a> · <a href=\"#errors\">Errors by pair</a> · <a href=\"#curves\">Training curves</a> · <a href=\"#architecture\">Architecture</a></nav>");

        L("<section id=\"accuracy\">");
        L("<h2>Accuracy</h2>");
        L($"<p class=\"big\" id=\"accuracy-value\">{Percent(e.Accuracy, 2)}</p>");
        L($"<p>{e.Correct:N0} of {e.Total:N0} correct, {e.Errors:N0} error{(e.Errors == 1 ? "" : "s")}.</p>");
        if (input.MemberScores is { } members)
        {
            L($"<p>The ensemble predicts the mean of its {members.Count} members' probabilities. Each member alone on the same images:</p>");
            L("<table class=\"members\">");
            L("<thead><tr><th>member</th><th>seed</th><th>accuracy</th><th>errors</th></tr></thead>");
            L("<tbody>");
            foreach (var m in members)
            {
                L($"<tr><td>{H(m.Member)}</td><td>{H(m.Seed)}</td><td>{Percent(m.Accuracy, 2)}</td><td>{I(m.Total - m.Correct)}</td></tr>");
            }
            L("</tbody>");
            L("</table>");
        }
        L("</section>");

        L("<section id=\"per-class\">");
        L("<h2>Per class</h2>");
        L("<table class=\"scores\">");
        // Named classes also show their number, the label of the confusion matrix's axes beyond 30 classes.
        bool named = input.ClassNames is not null;
        string numberHeader = named ? "<th>#</th>" : "";
        L($"<thead><tr>{numberHeader}<th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead>");
        L("<tbody>");
        double mp = 0, mr = 0, mf = 0;
        for (int c = 0; c < e.Classes; c++)
        {
            var s = e.Scores(c);
            mp += s.Precision;
            mr += s.Recall;
            mf += s.F1;
            string number = named ? $"<td>{I(c)}</td>" : "";
            L($"<tr id=\"class-{I(c)}\">{number}<td class=\"name\">{H(input.ClassName(c))}</td><td>{F4(s.Precision)}</td><td>{F4(s.Recall)}</td><td>{F4(s.F1)}</td><td>{I(s.Support)}</td></tr>");
        }
        L("</tbody>");
        L($"<tfoot><tr><td{(named ? " colspan=\"2\"" : "")}>macro average</td><td>{F4(mp / e.Classes)}</td><td>{F4(mr / e.Classes)}</td><td>{F4(mf / e.Classes)}</td><td>{I(e.Total)}</td></tr></tfoot>");
        L("</table>");
        L("</section>");

        var (cw, ch) = ConfusionPlot.Size(e.Classes, input.ClassNames);
        L("<section id=\"confusion\">");
        L("<h2>Confusion matrix</h2>");
        L("<p>Rows are the true labels, columns the predicted ones; each cell shows its count and is shaded by its share of the true class. Hover over a cell to name it; click a cell outlined in red to see those errors.</p>");
        L($"<div class=\"scroll\"><img class=\"fixed\" src=\"{ConfusionFile}\" width=\"{I(cw)}\" height=\"{I(ch)}\" usemap=\"#confusion-map\" alt=\"Confusion matrix heat map of {I(e.Classes)} classes\"></div>");
        L("<map name=\"confusion-map\" id=\"confusion-map\">");
        for (int t = 0; t < e.Classes; t++)
        {
            int rowTotal = e.RowTotal(t);
            for (int q = 0; q < e.Classes; q++)
            {
                int count = e.Confusion[t, q];
                var r = cells[t, q];
                string of = input.ClassNames is null ? $"the {I(t)}s" : $"class {input.ClassName(t)}";
                string share = rowTotal == 0 ? "" : $" ({(double)count / rowTotal:P1} of {of})";
                string name = t == q
                    ? $"true {input.ClassName(t)}, predicted {input.ClassName(q)}: {count:N0} correct{share}"
                    : $"true {input.ClassName(t)}, predicted {input.ClassName(q)}: {count:N0} error{(count == 1 ? "" : "s")}{share}";
                string href = t == q ? $"#class-{I(t)}" : count > 0 ? $"#{PairAnchor(t, q)}" : "";
                string hrefAttribute = href.Length > 0 ? $" href=\"{href}\"" : "";
                L($"<area shape=\"rect\" coords=\"{I(r.Left)},{I(r.Top)},{I(r.Right)},{I(r.Bottom)}\"{hrefAttribute} title=\"{H(name)}\" alt=\"{H(name)}\" data-true=\"{I(t)}\" data-predicted=\"{I(q)}\" data-count=\"{I(count)}\">");
            }
        }
        L("</map>");
        L("</section>");

        L("<section id=\"mistakes\">");
        L("<h2>Most confident mistakes</h2>");
        if (mistakes.Count == 0)
        {
            L("<p>No mistakes: every image is classified correctly.</p>");
        }
        else
        {
            int shown = Math.Min(TopMistakes, mistakes.Count);
            L($"<p>The {shown} mistakes the model was surest of, out of {mistakes.Count:N0}. Row numbers count from 0, as <code>convnet show --rows</code> does.</p>");
            L($"<img src=\"{MistakesFile}\" alt=\"The {shown} most confident mistakes\">");
            L("<table class=\"mistakes\">");
            L($"<thead><tr><th>#</th><th>row</th>{(input.Files is null ? "" : "<th>file</th>")}<th>true</th><th>predicted</th><th>probability</th><th>runner-up</th><th>its probability</th></tr></thead>");
            L("<tbody>");
            for (int k = 0; k < shown; k++)
            {
                int i = mistakes[k];
                int best = p.Best[i], second = p.RunnerUp[i];
                string file = input.Files is { } files ? $"<td class=\"name\">{H(files[i])}</td>" : "";
                L($"<tr><td>{I(k + 1)}</td><td>{I(i)}</td>{file}<td>{H(input.ClassName(data.Label(i)))}</td><td>{H(input.ClassName(best))}</td><td>{Percent(p.Probability(i, best))}</td><td>{H(input.ClassName(second))}</td><td>{Percent(p.Probability(i, second))}</td></tr>");
            }
            L("</tbody>");
            L("</table>");
        }
        L("</section>");

        L("<section id=\"errors\">");
        L("<h2>Errors by pair</h2>");
        if (pairs.Count == 0)
        {
            L("<p>No errors.</p>");
        }
        else
        {
            L("<p>Each (true, predicted) pair with errors, the most frequent first; within a pair the most confident first.</p>");
            L("<ul class=\"pairs\">");
            foreach (var (t, q, count) in pairs)
            {
                L($"<li><a href=\"#{PairAnchor(t, q)}\">{H(input.ClassName(t))} → {H(input.ClassName(q))}</a>: {count:N0}</li>");
            }
            L("</ul>");
            foreach (var (t, q, count) in pairs)
            {
                L($"<div class=\"pair\" id=\"{PairAnchor(t, q)}\">");
                L($"<h3>True {H(input.ClassName(t))}, predicted {H(input.ClassName(q))}: {count:N0} image{(count == 1 ? "" : "s")}</h3>");
                L($"<img src=\"{PairFile(t, q)}\" alt=\"Images of {H(input.ClassName(t))} predicted as {H(input.ClassName(q))}\">");
                L("<p><a href=\"#confusion\">back to the confusion matrix</a></p>");
                L("</div>");
            }
        }
        L("</section>");

        L("<section id=\"curves\">");
        L("<h2>Training curves</h2>");
        if (hasCurves)
        {
            if (input.Model is Ensemble)
            {
                L("<p>The curves of member 0, the first member trained; every member's history is in the model file.</p>");
            }
            L($"<img src=\"{CurvesFile}\" alt=\"Loss and accuracy per epoch\">");
        }
        else
        {
            L("<p>The model file holds no training history (it is written by <code>convnet train</code>).</p>");
        }
        var settings = new[] { "arch", "epochs", "batch_size", "learning_rate", "validation_split", "seed", "train_file", "train_images", "train_seconds" }
            .Where(input.Metadata.ContainsKey).ToList();
        if (settings.Count > 0)
        {
            L("<table class=\"settings\"><tbody>");
            foreach (var key in settings)
            {
                L($"<tr><th>{H(key)}</th><td>{H(input.Metadata[key])}</td></tr>");
            }
            L("</tbody></table>");
        }
        L("</section>");

        L("<section id=\"architecture\">");
        L("<h2>Architecture</h2>");
        if (input.Model is Ensemble)
        {
            L("<p>The diagram shows member 0; the text lists every member and the layers of each architecture.</p>");
        }
        if (input.Shown is not null)
        {
            L($"<img src=\"{ArchitectureFile}\" alt=\"One box per layer with its output shape and parameter count\">");
        }
        L("<details><summary>As text (<code>convnet summary</code>)</summary>");
        L($"<pre>{H(input.Model.Summary())}</pre>");
        L("</details>");
        L("</section>");
        L("</body>");
        L("</html>");
        return sb.ToString();
    }

    private static string F4(double value) => value.ToString("F4", CultureInfo.InvariantCulture);

    private const string Css = """
        body { font-family: "DejaVu Sans", system-ui, sans-serif; color: #202020; background: #fff; margin: 24px auto; max-width: 1240px; padding: 0 16px; line-height: 1.45; }
        h1 { font-size: 1.6em; margin-bottom: 0.2em; }
        h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
        code { font-family: "DejaVu Sans Mono", monospace; font-size: 0.92em; }
        nav { margin: 1em 0; }
        a { color: #1f5fa8; }
        .meta { color: #555; }
        .big { font-size: 2.6em; font-weight: bold; margin: 0.1em 0; }
        table { border-collapse: collapse; margin: 0.8em 0; }
        th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: right; }
        th { background: #f2f2f2; }
        table.settings th, table.settings td { text-align: left; }
        td.name { text-align: left; max-width: 24em; overflow-wrap: anywhere; }
        tfoot td { font-weight: bold; background: #fafafa; }
        img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
        img.fixed { max-width: none; }
        .scroll { overflow-x: auto; }
        ul.pairs { columns: 4; padding-left: 1.2em; }
        .pair { margin-top: 1.4em; }
        .pair:target h3 { background: #fff3c4; }
        pre { background: #f7f7f7; padding: 8px; overflow-x: auto; }
        """;
}
