using System.Globalization;
using Convnet.Cli;
using Convnet.Cli.Visualization;
using Convnet.Models;
using Xunit;
using Convnet.Saving;

namespace Convnet.Tests.Visualization;

[Collection(VisualizationCollection.Name)]
[Trait("Category", "Visualization")]
public sealed class TrainPlotTests(VisualizationFixture fixture)
{
    [Fact]
    public void Train_plot_is_a_legible_png_of_the_expected_size()
    {
        Assert.Contains($"Wrote the training curves to {fixture.CurvesPng}", fixture.TrainOutput);
        Png.AssertPicture(fixture.CurvesPng, (CurvesPlot.Width, CurvesPlot.Height));
    }

    [Fact]
    public void History_csv_has_one_row_per_epoch_matching_the_model_metadata()
    {
        var lines = File.ReadAllLines(fixture.HistoryCsv);
        Assert.Equal(HistoryJson.CsvHeader, lines[0]);
        Assert.Equal(3, lines.Length);

        var (model, metadata) = ModelFile.Load(fixture.ModelPath, threads: 1);
        model.Dispose();
        var history = HistoryJson.Read(metadata["history"]);
        Assert.NotNull(history);
        Assert.Equal(2, history!.Count);
        for (int e = 0; e < 2; e++)
        {
            var fields = lines[e + 1].Split(',');
            Assert.Equal(7, fields.Length);
            Assert.Equal(e + 1, int.Parse(fields[0], CultureInfo.InvariantCulture));
            var expected = new[] { history[e].Loss, history[e].Accuracy, history[e].ValidationLoss, history[e].ValidationAccuracy, history[e].LearningRate };
            for (int k = 0; k < expected.Length; k++)
            {
                Assert.Equal(expected[k], double.Parse(fields[k + 1], CultureInfo.InvariantCulture), 5);
            }
            Assert.True(double.Parse(fields[6], CultureInfo.InvariantCulture) > 0, "seconds");
        }
    }

    [Fact]
    public void Curves_with_a_changing_learning_rate_and_no_validation_render()
    {
        var epochs = Enumerable.Range(1, 12)
            .Select(e => new EpochLog(e, 1.0 / e, 1 - 0.5 / e, double.NaN, double.NaN, e <= 6 ? 1e-3 : 1e-4, 1.5))
            .ToList();
        string path = fixture.File("curves-lr.png");
        File.WriteAllBytes(path, CurvesPlot.Render(epochs, "learning rate steps"));
        Png.AssertPicture(path, (CurvesPlot.Width, CurvesPlot.Height));
    }

    [Fact]
    public void Curves_of_a_single_epoch_render()
    {
        string path = fixture.File("curves-one.png");
        File.WriteAllBytes(path, CurvesPlot.Render([new EpochLog(1, 0.7, 0.8, 0.6, 0.85, 1e-3, 2)], "one epoch"));
        Png.AssertPicture(path, (CurvesPlot.Width, CurvesPlot.Height));
    }

    [Fact]
    public void History_json_round_trips_and_missing_values_read_as_NaN()
    {
        var epochs = new List<EpochLog> { new(1, 0.5, 0.75, double.NaN, double.NaN, 0.001, 3.25) };
        var back = HistoryJson.Read(HistoryJson.Write(epochs));
        Assert.NotNull(back);
        Assert.Equal(epochs, back);
        Assert.Null(HistoryJson.Read("not json"));
        Assert.Null(HistoryJson.Read("{\"epoch\": 1}"));
        Assert.Equal("1,0.5,0.75,,,0.001,3.25", HistoryJson.ToCsv(epochs).Split('\n')[1]);
    }

    [Fact]
    public void Train_refuses_a_plot_in_a_missing_folder_before_training()
    {
        var (exit, output, error) = VisualizationFixture.Run("train", fixture.TrainCsv, "--model", fixture.File("unused.safetensors"), "--epochs", "1", "--plot", fixture.File("missing/curves.png"));
        Assert.Equal(1, exit);
        Assert.Contains("cannot write plot", error);
        Assert.DoesNotContain("Epoch 1", output);
    }
}
