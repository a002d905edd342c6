using System.Globalization;
using System.Text.RegularExpressions;
using Convnet.Cli;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Tensors;
using Convnet.Tests.Data;
using SkiaSharp;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary>The confusion heat map and the HTML report with class names: many classes, long names, names that look like markup.</summary>
[Trait("Category", "Visualization")]
public sealed partial class NamedClassesReportTests
{
    [Theory]
    [InlineData(2, 8)]
    [InlineData(3, 200)]
    [InlineData(30, 40)]
    [InlineData(40, 12)]
    [InlineData(256, 60)]
    public void Confusion_heat_maps_with_class_names_render_within_their_size(int classes, int nameLength)
    {
        var names = Names(classes, nameLength);
        var evaluation = Spread(classes);

        var (png, cells) = ConfusionPlot.Render(evaluation, "named", names);
        using var bitmap = ImageGridTests.Decode(png);

        var size = ConfusionPlot.Size(classes, names);
        Assert.Equal(size, (bitmap.Width, bitmap.Height));
        Assert.True(bitmap.Width >= Png.MinWidth);
        Assert.Equal(classes, cells.GetLength(0));
        var last = cells[classes - 1, classes - 1];
        Assert.True(cells[0, 0].Left > 0 && cells[0, 0].Top > 0);
        Assert.True(last.Right <= size.Width && last.Bottom <= size.Height);
        // The heat map's darkest blue fills the diagonal cells (every image of a class predicted right but one in seven).
        var centre = bitmap.GetPixel(cells[0, 0].MidX, cells[0, 0].Top + 2);
        Assert.True(centre.Blue > centre.Red + 40, $"diagonal cell colour {centre}");
    }

    [Fact]
    public void Beyond_30_classes_the_axes_are_numbered_and_a_key_below_names_them()
    {
        var names = Names(40, 12);
        Assert.Equal("cls00_xxxxxx", ConfusionPlot.AxisLabel(0, 30, Names(30, 12)));
        Assert.Equal("7", ConfusionPlot.AxisLabel(7, 40, names));
        var numbered = ConfusionPlot.Size(40, null);
        var named = ConfusionPlot.Size(40, names);
        Assert.Equal(numbered.Width, named.Width);
        Assert.True(named.Height > numbered.Height + 5 * 17, $"no room for the key: {named} against {numbered}");
    }

    [Fact]
    public void Long_names_stand_upright_above_the_matrix_and_widen_the_left_margin()
    {
        var (png, cells) = ConfusionPlot.Render(Spread(3), "long", Names(3, 60));
        var (shortPng, shortCells) = ConfusionPlot.Render(Spread(3), "short", Names(3, 1));
        Assert.True(cells[0, 0].Top > shortCells[0, 0].Top + 60, "no band for upright names");
        Assert.True(cells[0, 0].Left > shortCells[0, 0].Left + 60, "no margin for long row names");
        Assert.True(png.Length > shortPng.Length);
    }

    [Fact]
    public void The_report_names_the_classes_and_escapes_them()
    {
        using var dir = new TempDir();
        string[] names = ["<b>", "cat & dog", "say \"hi\""];
        var input = Input(names, count: 60);

        string index = HtmlReport.Write(dir.Path, input);
        string html = File.ReadAllText(index);

        Assert.DoesNotContain("<b>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("cat & dog", html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"name\">&lt;b&gt;</td>", html);
        Assert.Contains("<td class=\"name\">cat &amp; dog</td>", html);
        Assert.Contains("<td class=\"name\">say &quot;hi&quot;</td>", html);
        Assert.Contains("title=\"true &lt;b&gt;, predicted cat &amp; dog: ", html);
        Assert.Matches(TableRow(), html);
        Assert.True(input.Evaluation.Errors > 0);
        Assert.Contains("<h3>True ", html);
        foreach (var source in ImageSource().Matches(html).Select(m => m.Groups[1].Value).Distinct())
        {
            Png.AssertPicture(Path.Combine(dir.Path, source));
        }
        Assert.Equal(9, AreaTag().Matches(html).Count);
    }

    [Fact]
    public void Names_that_are_the_class_numbers_are_shown_as_numbers()
    {
        // A folder read for a model without names has classes "0", "1", ...: the table stays as for numbered classes.
        using var dir = new TempDir();
        var input = Input(["0", "1", "2"], count: 30, nameModel: false);
        Assert.Null(input.ClassNames);
        string html = File.ReadAllText(HtmlReport.Write(dir.Path, input));
        Assert.DoesNotContain("<th>#</th><th>class</th>", html);
        Assert.Contains("<tr id=\"class-2\"><td class=\"name\">2</td>", html);
        Assert.Equal("cat", Input(["cat", "1"], count: 4, nameModel: false).ClassNames![0]);
    }

    [Fact]
    public void A_folder_s_file_names_are_in_the_mistakes_table_escaped()
    {
        using var dir = new TempDir();
        var input = Input(["cat", "dog"], count: 30);
        var files = Enumerable.Range(0, 30).Select(i => $"{input.ClassName(input.Data.Label(i))}/<img src=x onerror=alert({i})>.png").ToArray();

        string html = File.ReadAllText(HtmlReport.Write(dir.Path, input with { Files = files }));

        Assert.Contains("<th>row</th><th>file</th>", html);
        Assert.DoesNotContain("<img src=x", html, StringComparison.Ordinal);
        int firstMistake = Enumerable.Range(0, 30).First(i => input.Predictions.Best[i] != input.Data.Label(i));
        Assert.Contains($"<td class=\"name\">{System.Net.WebUtility.HtmlEncode(files[firstMistake])}</td>", html);
        Png.AssertPicture(Path.Combine(dir.Path, HtmlReport.MistakesFile));
    }

    [Fact]
    public void The_report_of_40_colour_classes_draws_every_picture()
    {
        using var dir = new TempDir();
        var input = Input(Names(40, 25), count: 200);

        string html = File.ReadAllText(HtmlReport.Write(dir.Path, input));

        Png.AssertPicture(Path.Combine(dir.Path, HtmlReport.ConfusionFile), ConfusionPlot.Size(40, input.ClassNames));
        Png.AssertPicture(Path.Combine(dir.Path, HtmlReport.MistakesFile));
        Assert.Equal(40 * 40, AreaTag().Matches(html).Count);
        Assert.Contains("<th>#</th><th>class</th>", html);
        using var mistakes = SKBitmap.Decode(Path.Combine(dir.Path, HtmlReport.MistakesFile));
        Assert.True(HasColour(mistakes), "the gallery of a colour data set has no colour in its images");
    }

    /// <summary>A report input of <paramref name="count"/> random colour 12×10 images, labelled i mod classes, with an untrained named model's predictions.</summary>
    private static ReportInput Input(IReadOnlyList<string> names, int count, bool nameModel = true)
    {
        var shape = Shape.Image(12, 10, 3);
        var rng = new Random(5);
        var pixels = new byte[count * shape.Size];
        rng.NextBytes(pixels);
        var labels = Enumerable.Range(0, count).Select(i => (byte)(i % names.Count)).ToArray();
        var data = new Dataset(pixels, labels, shape, names);
        var model = new Sequential(shape, seed: 3, threads: 1);
        model.Add(new Flatten()).Add(new Dense(names.Count)).Add(new Softmax());
        model.ClassNames = nameModel ? names : null;
        var predictions = Predictions.Of(model, data);
        var evaluation = Evaluation.Of(labels, predictions.BestAsBytes(), names);
        return new ReportInput("named.safetensors", "images", null, data, predictions, evaluation, model, new Dictionary<string, string>());
    }

    private static bool HasColour(SKBitmap bitmap)
    {
        for (int y = 0; y < bitmap.Height; y++)
        {
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                // Saturated pixels that are neither the red of the frames nor text: the images' own.
                if (Math.Abs(c.Green - c.Blue) > 60 && c != Drawing.Wrong)
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>Names of <paramref name="length"/> characters, distinct by their first five: "cls00_xxx...".</summary>
    private static string[] Names(int classes, int length) =>
        Enumerable.Range(0, classes).Select(c => ("cls" + c.ToString("D2", CultureInfo.InvariantCulture) + "_" + new string('x', 300))[..Math.Max(1, length)] + (length < 5 ? c.ToString(CultureInfo.InvariantCulture) : "")).ToArray();

    /// <summary>Each class predicted right except every seventh image, predicted as the next class.</summary>
    private static Evaluation Spread(int classes)
    {
        var truth = Enumerable.Range(0, Math.Max(300, 3 * classes)).Select(i => (byte)(i % classes)).ToArray();
        var predicted = truth.Select((t, i) => (byte)(i % 7 == 0 ? (t + 1) % classes : t)).ToArray();
        return Evaluation.Of(truth, predicted, Names(classes, 8));
    }

    [GeneratedRegex("<tr id=\"class-0\"><td>0</td><td class=\"name\">&lt;b&gt;</td>")]
    private static partial Regex TableRow();

    [GeneratedRegex("<img [^>]*src=\"([^\"]+)\"")]
    private static partial Regex ImageSource();

    [GeneratedRegex("<area [^>]*>")]
    private static partial Regex AreaTag();
}
