using Convnet.Cli;
using Convnet.Cli.Visualization;
using Convnet.Images;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Tests.Data;
using SkiaSharp;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary>A folder of colour PNGs read by <see cref="ImageFolder"/>, drawn as a grid and as a report: colours, sizes and class names survive.</summary>
[Trait("Category", "Visualization")]
public sealed class ColourFolderPictureTests
{
    [Fact]
    public void A_grid_of_a_colour_folder_draws_the_red_squares_red_at_three_times_their_size()
    {
        using var dir = new TempDir();
        var folder = ImageFolder.Load(ColourFolder.Write(dir, "shapes", perClass: 2));
        Assert.Equal(ColourFolder.Classes, folder.Data.ClassNames);
        var data = folder.Data;
        int red = Array.IndexOf(ColourFolder.Classes, "red square");
        int sample = Enumerable.Range(0, data.Count).First(i => data.Label(i) == red);
        var cells = new List<GridCell> { new(sample, [new Caption(data.ClassName(red), Drawing.Ink)]) };

        using var bitmap = ImageGridTests.Decode(ImageGrid.Render(data, cells, "shapes", []));

        Assert.Equal(ImageGrid.Size(data.SampleShape, 1, lines: 1, columns: 8, legend: false), (bitmap.Width, bitmap.Height));
        Assert.Equal((48, 48), ImageGridTests.BoundingBox(bitmap, new SKColor(255, 0, 0))); // the 16×16 square, ×3
        Assert.Equal(48 * 48, ImageGridTests.Count(bitmap, new SKColor(255, 0, 0)));
    }

    [Fact]
    public void The_report_of_a_colour_folder_shows_coloured_mistakes_named_and_with_their_files()
    {
        using var dir = new TempDir();
        var folder = ImageFolder.Load(ColourFolder.Write(dir, "shapes", perClass: 6));
        var data = folder.Data;
        // An untrained model that names the classes in another order: the data is matched to it by name.
        string[] modelOrder = [.. ColourFolder.Classes.Reverse()];
        var model = new Sequential(data.SampleShape, seed: 1, threads: 1);
        model.Add(new Flatten()).Add(new Dense(3)).Add(new Softmax());
        model.ClassNames = modelOrder;
        var matched = ClassMatching.ForModel(data, model, "shapes");
        Assert.Equal(modelOrder, matched.ClassNames);
        Assert.Equal(data.ClassName(data.Label(0)), matched.ClassName(matched.Label(0)));
        var predictions = Predictions.Of(model, matched);
        var input = new ReportInput("m.safetensors", "shapes", null, matched, predictions,
            Evaluation.Of(matched.Labels!, predictions.BestAsBytes(), matched.ClassNames), model, new Dictionary<string, string>())
        { Files = folder.Files };
        Assert.True(input.Evaluation.Errors > 0, "the untrained model should make mistakes");

        string html = File.ReadAllText(HtmlReport.Write(dir.File("report"), input));

        foreach (string name in ColourFolder.Classes)
        {
            Assert.Contains($"<td class=\"name\">{name}</td>", html);
        }
        Assert.Contains("<td class=\"name\">", html);
        Assert.Contains(".png</td>", html);
        using var mistakes = SKBitmap.Decode(Path.Combine(dir.File("report"), HtmlReport.MistakesFile));
        int shapes = ImageGridTests.Count(mistakes, new SKColor(0, 255, 0)) + ImageGridTests.Count(mistakes, new SKColor(0, 0, 255)) + ImageGridTests.Count(mistakes, new SKColor(255, 0, 0));
        Assert.True(shapes > 48 * 48, $"only {shapes} pixels of the shapes' colours in the gallery");
    }

    [Fact]
    public void A_class_the_model_does_not_know_is_an_error_naming_it_and_the_file()
    {
        using var dir = new TempDir();
        var data = ImageFolder.Load(ColourFolder.Write(dir, "shapes", perClass: 1)).Data;
        var model = new Sequential(data.SampleShape, seed: 1, threads: 1);
        model.Add(new Flatten()).Add(new Dense(3)).Add(new Softmax());
        model.ClassNames = ["blue bar", "green disc", "yellow star"];
        var error = Assert.Throws<UserError>(() => ClassMatching.ForModel(data, model, "shapes"));
        Assert.Equal("shapes: label 'red square' is not a class of the model, whose 3 classes are blue bar, green disc, yellow star", error.Message);
    }
}
