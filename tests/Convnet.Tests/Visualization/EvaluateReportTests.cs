using System.Globalization;
using System.Text.RegularExpressions;
using Convnet.Cli;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.Models;
using Xunit;
using Convnet.Saving;

namespace Convnet.Tests.Visualization;

[Collection(VisualizationCollection.Name)]
[Trait("Category", "Visualization")]
public sealed partial class EvaluateReportTests(VisualizationFixture fixture)
{
    [Fact]
    public void Every_picture_the_report_uses_is_a_legible_png()
    {
        string html = File.ReadAllText(fixture.ReportIndex);
        var sources = ImageSource().Matches(html).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.Contains(HtmlReport.ConfusionFile, sources);
        Assert.Contains(HtmlReport.MistakesFile, sources);
        Assert.Contains(HtmlReport.CurvesFile, sources);
        Assert.Contains(HtmlReport.ArchitectureFile, sources);
        Assert.Contains(sources, s => s.StartsWith("errors-", StringComparison.Ordinal));
        foreach (var source in sources)
        {
            Png.AssertPicture(Path.Combine(fixture.ReportDir, source));
        }
        Png.AssertPicture(Path.Combine(fixture.ReportDir, HtmlReport.ConfusionFile), ConfusionPlot.Size(10));
        Png.AssertPicture(Path.Combine(fixture.ReportDir, HtmlReport.CurvesFile), (CurvesPlot.Width, CurvesPlot.Height));
        // The default recipe's 17 layers, its dense10 and softmax included.
        Png.AssertPicture(Path.Combine(fixture.ReportDir, HtmlReport.ArchitectureFile), (ArchitectureDiagram.Width, ArchitectureDiagram.Height(17)));
        Assert.Empty(Directory.GetFiles(fixture.ReportDir, "*.tmp-*"));
    }

    [Fact]
    public void Confusion_counts_in_the_html_equal_those_printed_by_evaluate()
    {
        var printed = PrintedConfusion(fixture.EvaluateOutput);
        var html = HtmlConfusion(File.ReadAllText(fixture.ReportIndex));
        Assert.Equal(10, printed.GetLength(0));
        Assert.Equal(printed, html);

        // And both equal a count made here from the labels and the printed total of errors.
        int errors = 0;
        for (int t = 0; t < 10; t++)
        {
            for (int p = 0; p < 10; p++)
            {
                errors += t == p ? 0 : printed[t, p];
            }
        }
        Assert.Contains($"{fixture.EvalData.Count - errors:N0} of {fixture.EvalData.Count:N0} correct", fixture.EvaluateOutput);
        Assert.True(errors >= 20, $"the corrupted labels should give at least 20 errors, got {errors}");
    }

    [Fact]
    public void Off_diagonal_cells_link_to_their_gallery_and_every_cell_is_named()
    {
        string html = File.ReadAllText(fixture.ReportIndex);
        var areas = AreaTag().Matches(html).Select(m => m.Value).ToList();
        Assert.Equal(100, areas.Count);
        foreach (var area in areas)
        {
            int t = int.Parse(Attribute(area, "data-true")!, CultureInfo.InvariantCulture);
            int p = int.Parse(Attribute(area, "data-predicted")!, CultureInfo.InvariantCulture);
            int count = int.Parse(Attribute(area, "data-count")!, CultureInfo.InvariantCulture);
            Assert.StartsWith($"true {t}, predicted {p}: ", Attribute(area, "title"));
            string? href = Attribute(area, "href");
            if (t != p && count > 0)
            {
                Assert.Equal($"#errors-{t}-{p}", href);
                Assert.Contains($"id=\"errors-{t}-{p}\"", html);
                Assert.Contains($"src=\"errors-{t}-{p}.png\"", html);
            }
            else if (t != p)
            {
                Assert.Null(href);
            }
        }
    }

    [Fact]
    public void Report_is_self_contained()
    {
        string html = File.ReadAllText(fixture.ReportIndex);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.OrdinalIgnoreCase);
        foreach (Match m in UrlAttribute().Matches(html))
        {
            string url = m.Groups[1].Value;
            Assert.True(url.StartsWith('#') || !url.Contains(':', StringComparison.Ordinal) && !url.StartsWith("//", StringComparison.Ordinal), $"external reference {url}");
        }
        Assert.Contains(">Most confident mistakes</h2>", html);
        Assert.Contains(">Training curves</h2>", html);
        Assert.Contains(">Architecture</h2>", html);
    }

    [Fact]
    public void Report_from_an_unlabelled_csv_and_a_labels_file_has_the_same_counts()
    {
        string dir = fixture.File("report-labels");
        var (exit, output, error) = VisualizationFixture.Run("evaluate", fixture.UnlabelledCsv, "--labels", fixture.LabelsCsv, "--model", fixture.ModelPath, "--report", dir);
        Assert.True(exit == 0, error);
        Assert.Contains("Wrote the report to", output);
        Assert.Equal(PrintedConfusion(fixture.EvaluateOutput), HtmlConfusion(File.ReadAllText(Path.Combine(dir, "index.html"))));
        Assert.Equal(PrintedConfusion(output), PrintedConfusion(fixture.EvaluateOutput));
    }

    [Fact]
    public void Report_with_a_submission_is_a_user_error()
    {
        var (exit, _, error) = VisualizationFixture.Run("evaluate", "--submission", fixture.LabelsCsv, "--labels", fixture.LabelsCsv, "--report", fixture.File("report-submission"));
        Assert.Equal(1, exit);
        Assert.Contains("--report needs the images and a model", error);
        Assert.False(Directory.Exists(fixture.File("report-submission")));
    }

    [Fact]
    public void Report_into_a_file_is_refused_before_the_model_runs()
    {
        string file = fixture.File("not-a-folder");
        File.WriteAllText(file, "x");
        var (exit, _, error) = VisualizationFixture.Run("evaluate", fixture.EvalCsv, "--model", fixture.ModelPath, "--report", file);
        Assert.Equal(1, exit);
        Assert.Contains("it is a file", error);
    }

    [Fact]
    public void Report_of_a_perfect_model_without_history_says_so_and_still_draws_every_picture()
    {
        // Labels equal to the model's own predictions: no mistakes. Saved again without metadata: no history.
        var (net, _) = ModelFile.Load(fixture.ModelPath, threads: 1);
        string bare = fixture.File("bare.safetensors");
        string csv = fixture.File("self-labelled.csv");
        using (net)
        {
            net.Save(bare);
            var labels = net.PredictClasses(fixture.EvalData).Select(c => (byte)c).ToArray();
            KaggleCsv.WriteLabelled(csv, new Dataset(fixture.EvalData.Pixels, labels, fixture.EvalData.SampleShape));
        }
        string dir = fixture.File("report-perfect");
        var (exit, output, error) = VisualizationFixture.Run("evaluate", csv, "--model", bare, "--report", dir);
        Assert.True(exit == 0, error);
        Assert.Contains("Accuracy: 100", output);
        string html = File.ReadAllText(Path.Combine(dir, "index.html"));
        Assert.Contains("No mistakes", html);
        Assert.Contains("holds no training history", html);
        Assert.Equal(PrintedConfusion(output), HtmlConfusion(html));
        Assert.DoesNotContain("href=\"#errors-", html);
        Assert.False(File.Exists(Path.Combine(dir, HtmlReport.MistakesFile)));
        Assert.False(File.Exists(Path.Combine(dir, HtmlReport.CurvesFile)));
        var sources = ImageSource().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal([HtmlReport.ConfusionFile, HtmlReport.ArchitectureFile], sources);
        int classes = PrintedConfusion(output).GetLength(0);
        Png.AssertPicture(Path.Combine(dir, HtmlReport.ConfusionFile), ConfusionPlot.Size(classes));
        Png.AssertPicture(Path.Combine(dir, HtmlReport.ArchitectureFile));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(26)]
    public void Confusion_heat_maps_of_any_size_are_at_least_400_px_wide(int classes)
    {
        var truth = Enumerable.Range(0, 300).Select(i => (byte)(i % classes)).ToArray();
        var predicted = truth.Select((t, i) => (byte)(i % 7 == 0 ? (t + 1) % classes : t)).ToArray();
        var (png, cells) = ConfusionPlot.Render(Evaluation.Of(truth, predicted), "test");
        string path = fixture.File($"confusion-{classes}.png");
        File.WriteAllBytes(path, png);
        var size = Png.AssertPicture(path, ConfusionPlot.Size(classes));
        Assert.Equal(classes, cells.GetLength(0));
        Assert.True(cells[classes - 1, classes - 1].Right <= size.Width && cells[classes - 1, classes - 1].Bottom <= size.Height);
    }

    /// <summary>The rows of the "Confusion matrix" table evaluate prints: the row label then one count per class.</summary>
    internal static int[,] PrintedConfusion(string output)
    {
        var lines = output.Split('\n');
        int start = Array.FindIndex(lines, l => l.Contains("Confusion matrix", StringComparison.Ordinal));
        Assert.True(start >= 0, "evaluate printed no confusion matrix");
        // The header row names the n classes (0 .. n-1); the next n rows are the row label then n counts.
        var numbered = lines.Skip(start + 1)
            .Select(l => Number().Matches(l).Select(m => int.Parse(m.Value, CultureInfo.InvariantCulture)).ToArray())
            .Where(a => a.Length > 0)
            .ToList();
        int n = numbered[0].Length;
        Assert.Equal(Enumerable.Range(0, n), numbered[0]);
        var matrix = new int[n, n];
        for (int t = 0; t < n; t++)
        {
            var row = numbered[t + 1];
            Assert.Equal(n + 1, row.Length);
            Assert.Equal(t, row[0]);
            for (int p = 0; p < n; p++)
            {
                matrix[t, p] = row[p + 1];
            }
        }
        return matrix;
    }

    internal static int[,] HtmlConfusion(string html)
    {
        var cells = AreaTag().Matches(html).Select(m => m.Value).Select(a => (
            T: int.Parse(Attribute(a, "data-true")!, CultureInfo.InvariantCulture),
            P: int.Parse(Attribute(a, "data-predicted")!, CultureInfo.InvariantCulture),
            Count: int.Parse(Attribute(a, "data-count")!, CultureInfo.InvariantCulture))).ToList();
        int n = (int)Math.Round(Math.Sqrt(cells.Count));
        Assert.Equal(n * n, cells.Count);
        var matrix = new int[n, n];
        foreach (var (t, p, count) in cells)
        {
            matrix[t, p] = count;
        }
        return matrix;
    }

    private static string? Attribute(string tag, string name)
    {
        var m = Regex.Match(tag, $"\\s{Regex.Escape(name)}=\"([^\"]*)\"");
        return m.Success ? System.Net.WebUtility.HtmlDecode(m.Groups[1].Value) : null;
    }

    [GeneratedRegex("<img[^>]*\\ssrc=\"([^\"]+)\"")]
    private static partial Regex ImageSource();

    [GeneratedRegex("<area\\s[^>]*>")]
    private static partial Regex AreaTag();

    [GeneratedRegex("\\s(?:src|href)=\"([^\"]*)\"")]
    private static partial Regex UrlAttribute();

    [GeneratedRegex("\\d+")]
    private static partial Regex Number();
}
