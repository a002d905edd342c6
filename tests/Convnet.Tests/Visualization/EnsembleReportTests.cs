using System.Globalization;
using System.Text.RegularExpressions;
using Convnet.Cli.Visualization;
using Convnet.Models;
using Xunit;
using Xunit.Abstractions;
using Convnet.Saving;

namespace Convnet.Tests.Visualization;

/// <summary>The pictures of an ensemble file: member 0's training curves, the report and the captioned grid.</summary>
[Collection(VisualizationCollection.Name)]
[Trait("Category", "Visualization")]
public sealed class EnsembleReportTests(VisualizationFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void An_ensemble_file_gets_member_0_s_curves_the_report_with_each_member_and_the_captioned_grid()
    {
        string model = fixture.File("ensemble.safetensors");
        string curves = fixture.File("ensemble-curves.png");
        var (trainExit, trainOutput, trainError) = VisualizationFixture.Run("train", fixture.TrainCsv, "--model", model, "--ensemble", "2", "--epochs", "1", "--batch-size", "32", "--threads", "1", "--plot", curves);
        Assert.True(trainExit == 0, trainError);
        Assert.Contains($"Wrote the training curves of member 0 to {curves}.", trainOutput);
        Png.AssertPicture(curves, (CurvesPlot.Width, CurvesPlot.Height));

        string dir = fixture.File("ensemble-report");
        var (exit, printed, error) = VisualizationFixture.Run("evaluate", fixture.EvalCsv, "--model", model, "--report", dir);
        Assert.True(exit == 0, error);
        output.WriteLine(printed);
        string html = File.ReadAllText(Path.Combine(dir, HtmlReport.IndexFile));

        Assert.Equal(EvaluateReportTests.PrintedConfusion(printed), EvaluateReportTests.HtmlConfusion(html));
        Assert.Contains("an ensemble of 2 models, 483,860 parameters in all", html);
        // The members' table of the page holds the accuracies evaluate printed.
        for (int k = 0; k < 2; k++)
        {
            var row = Regex.Match(printed, $@"│ member{k} +│ {k + 1} +│ ([\d.]+) %");
            Assert.True(row.Success, printed);
            Assert.Contains($"<tr><td>member{k}</td><td>{k + 1}</td><td>{row.Groups[1].Value}%</td>", html);
        }
        Png.AssertPicture(Path.Combine(dir, HtmlReport.CurvesFile), (CurvesPlot.Width, CurvesPlot.Height));
        // The default recipe's 17 layers, its dense10 and softmax included.
        Png.AssertPicture(Path.Combine(dir, HtmlReport.ArchitectureFile), (ArchitectureDiagram.Width, ArchitectureDiagram.Height(17)));
        Assert.Contains("The curves of member 0", html);
        Assert.Contains("Ensemble of 2 models", html);

        // The grid captions each image with the ensemble's class; its count of wrong ones is the ensemble's.
        string grid = fixture.File("ensemble-grid.png");
        var (showExit, shown, showError) = VisualizationFixture.Run("show", fixture.EvalCsv, "--rows", "0:40", "--model", model, "--out", grid);
        Assert.True(showExit == 0, showError);
        Png.AssertPicture(grid);
        using var ensemble = ModelFile.LoadEnsemble(model, threads: 1).Model;
        var rows = fixture.EvalData.Subset([.. Enumerable.Range(0, 40)]);
        int wrong = ensemble.PredictClasses(rows).Where((c, i) => c != rows.Label(i)).Count();
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"; {wrong} wrong."), shown);
    }
}
