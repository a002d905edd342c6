using Convnet.Cli.Visualization;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using SkiaSharp;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary><c>convnet show DIR</c>: an image folder drawn in colour at its size, converted by --image-size and --color-mode, or read at a model's input shape.</summary>
[Trait("Category", "Visualization")]
public sealed class ShowFolderTests : IDisposable
{
    private const int PerClass = 4;
    private readonly TempDir _dir = new();
    private readonly string _folder;

    public ShowFolderTests() => _folder = ColourFolder.Write(_dir, "shapes", PerClass);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Show_of_a_colour_folder_draws_every_image_in_colour_with_its_class_name()
    {
        string png = _dir.File("grid.png");
        var (exit, output, error) = VisualizationFixture.Run("show", _folder, "--out", png);
        Assert.True(exit == 0, error);
        Assert.Contains($"Wrote {3 * PerClass} images (rows 0–{3 * PerClass - 1})", output);
        Png.AssertPicture(png, ImageGrid.Size(Shape.Image(32, 32, 3), 3 * PerClass, lines: 2, columns: 8, legend: true));
        using var bitmap = SKBitmap.Decode(png);
        // Each red square is 16×16 pixels, drawn three times as large.
        Assert.Equal(PerClass * 48 * 48, ImageGridTests.Count(bitmap, new SKColor(255, 0, 0)));
        Assert.True(ImageGridTests.Count(bitmap, new SKColor(0, 255, 0)) > PerClass * 30 * 30);
    }

    [Fact]
    public void Image_size_and_color_mode_convert_the_folder_before_it_is_drawn()
    {
        string png = _dir.File("gray.png");
        var (exit, _, error) = VisualizationFixture.Run("show", _folder, "--image-size", "48x64", "--color-mode", "grayscale", "--rows", "2:8", "--out", png);
        Assert.True(exit == 0, error);
        Png.AssertPicture(png, ImageGrid.Size(Shape.Image(48, 64, 1), 6, lines: 2, columns: 8, legend: true));
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal(0, Saturated(bitmap));
    }

    [Fact]
    public void Show_of_a_folder_with_a_model_reads_it_at_the_model_s_input_and_names_its_predictions()
    {
        string modelPath = _dir.File("m.safetensors");
        using (var net = new Sequential(Shape.Image(16, 16, 3), seed: 2, threads: 1))
        {
            net.Add(new Flatten()).Add(new Dense(3)).Add(new Softmax());
            net.ClassNames = ColourFolder.Classes;
            net.Save(modelPath);
        }
        string png = _dir.File("model.png");
        var (exit, output, error) = VisualizationFixture.Run("show", _folder, "--model", modelPath, "--out", png);
        Assert.True(exit == 0, error);
        Assert.Matches($@"Wrote {3 * PerClass} images \(rows 0–{3 * PerClass - 1}\) to .*; \d+ wrong\.", output);
        Png.AssertPicture(png, ImageGrid.Size(Shape.Image(16, 16, 3), 3 * PerClass, lines: 3, columns: 8, legend: true));
    }

    [Fact]
    public void Image_options_on_a_csv_are_a_one_line_error_and_nothing_is_written()
    {
        string csv = _dir.Write("one.csv", "label,pixel0\n1,0\n");
        string png = _dir.File("never.png");
        var (exit, _, error) = VisualizationFixture.Run("show", csv, "--image-size", "8x8", "--out", png);
        Assert.Equal(1, exit);
        Assert.Contains("--image-size applies to image folders", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(File.Exists(png));
    }

    /// <summary>Pixels whose channels differ by more than 40: colour, which a grayscale grid without a model (gray captions) must not have.</summary>
    private static int Saturated(SKBitmap bitmap)
    {
        int n = 0;
        for (int y = 0; y < bitmap.Height; y++)
        {
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                n += Math.Max(Math.Abs(c.Red - c.Green), Math.Max(Math.Abs(c.Green - c.Blue), Math.Abs(c.Red - c.Blue))) > 40 ? 1 : 0;
            }
        }
        return n;
    }
}
