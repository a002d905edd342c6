using Convnet.Cli;
using Convnet.Cli.Commands;
using Convnet.Cli.Visualization;
using Xunit;

namespace Convnet.Tests.Visualization;

[Collection(VisualizationCollection.Name)]
[Trait("Category", "Visualization")]
public sealed class ShowCommandTests(VisualizationFixture fixture)
{
    [Fact]
    public void Show_with_a_model_captions_label_and_prediction_and_counts_the_wrong_ones()
    {
        string png = fixture.File("grid-model.png");
        var (exit, output, error) = VisualizationFixture.Run("show", fixture.EvalCsv, "--rows", "0:20", "--model", fixture.ModelPath, "--out", png);
        Assert.True(exit == 0, error);
        Assert.Matches(@"Wrote 20 images \(rows 0–19\) to .*; \d+ wrong\.", output);
        Png.AssertPicture(png, ImageGrid.Size(fixture.EvalData.SampleShape, 20, lines: 3, columns: 8, legend: true));
    }

    [Fact]
    public void Show_without_a_model_draws_labels_only()
    {
        string png = fixture.File("grid.png");
        var (exit, _, error) = VisualizationFixture.Run("show", fixture.EvalCsv, "--out", png, "--columns", "10");
        Assert.True(exit == 0, error);
        Png.AssertPicture(png, ImageGrid.Size(fixture.EvalData.SampleShape, 64, lines: 2, columns: 10, legend: true));
    }

    [Fact]
    public void Show_of_an_unlabelled_file_and_a_few_rows_is_still_400_px_wide()
    {
        string png = fixture.File("grid-unlabelled.png");
        var (exit, _, error) = VisualizationFixture.Run("show", fixture.UnlabelledCsv, "--rows", "3", "--out", png);
        Assert.True(exit == 0, error);
        Png.AssertPicture(png, ImageGrid.Size(fixture.EvalData.SampleShape, 1, lines: 1, columns: 8, legend: false));
    }

    [Theory]
    [InlineData("0:64", 100, 0, 64)]
    [InlineData(":10", 100, 0, 10)]
    [InlineData("90:", 100, 90, 100)]
    [InlineData("5", 100, 5, 6)]
    [InlineData(" 2 : 4 ", 100, 2, 4)]
    [InlineData("0:64", 20, 0, 20)]
    public void Rows_are_parsed_as_a_python_slice(string text, int count, int start, int end) =>
        Assert.Equal((start, end), ShowCommand.ParseRows(text, count));

    [Theory]
    [InlineData("a:b")]
    [InlineData("-1:5")]
    [InlineData("100:")]
    [InlineData("5:5")]
    [InlineData("0:2000")]
    public void Bad_rows_are_a_user_error(string text) =>
        Assert.Throws<UserError>(() => ShowCommand.ParseRows(text, text == "0:2000" ? 5000 : 100));

    [Fact]
    public void Show_with_bad_rows_exits_1_and_writes_nothing()
    {
        string png = fixture.File("never.png");
        var (exit, _, error) = VisualizationFixture.Run("show", fixture.EvalCsv, "--rows", "500:600", "--out", png);
        Assert.Equal(1, exit);
        Assert.Contains("--rows '500:600'", error);
        Assert.False(File.Exists(png));
    }
}
