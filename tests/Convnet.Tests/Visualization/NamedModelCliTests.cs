using Convnet.Saving;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary>The fixture's model saved again with class names: <c>show --model</c> and <c>evaluate --report</c> print and draw the names.</summary>
[Collection(VisualizationCollection.Name)]
[Trait("Category", "Visualization")]
public sealed class NamedModelCliTests(VisualizationFixture fixture)
{
    private static readonly string[] Names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "<i>nine</i>"];

    private string NamedModel()
    {
        string path = fixture.File("named.safetensors");
        if (!File.Exists(path))
        {
            var (net, metadata) = ModelFile.Load(fixture.ModelPath, threads: 1);
            using (net)
            {
                net.ClassNames = Names;
                net.Save(path, metadata);
            }
        }
        return path;
    }

    [Fact]
    public void Evaluate_report_of_a_named_model_names_its_classes_everywhere()
    {
        string dir = fixture.File("report-named");
        var (exit, output, error) = VisualizationFixture.Run("evaluate", fixture.EvalCsv, "--model", NamedModel(), "--report", dir);
        Assert.True(exit == 0, error);
        string html = File.ReadAllText(Path.Combine(dir, "index.html"));
        Assert.Contains("<td class=\"name\">seven</td>", html);
        Assert.Contains("<td class=\"name\">&lt;i&gt;nine&lt;/i&gt;</td>", html);
        Assert.DoesNotContain("<i>", html, StringComparison.Ordinal);
        Assert.Matches("title=\"true [a-z]+, predicted [a-z]+: ", html);
        // The same weights as the fixture's unnamed model: the same counts, in the same class order.
        Assert.Equal(EvaluateReportTests.PrintedConfusion(fixture.EvaluateOutput), EvaluateReportTests.HtmlConfusion(html));
        Assert.Contains("seven", output);
        Png.AssertPicture(Path.Combine(dir, "confusion.png"), global::Convnet.Cli.Visualization.ConfusionPlot.Size(10, Names));
    }

    [Fact]
    public void Show_with_a_named_model_draws_the_grid()
    {
        string png = fixture.File("grid-named.png");
        var (exit, output, error) = VisualizationFixture.Run("show", fixture.EvalCsv, "--rows", "0:12", "--model", NamedModel(), "--out", png);
        Assert.True(exit == 0, error);
        Assert.Contains("Wrote 12 images", output);
        Png.AssertPicture(png, global::Convnet.Cli.Visualization.ImageGrid.Size(fixture.EvalData.SampleShape, 12, lines: 3, columns: 8, legend: true));
    }
}
