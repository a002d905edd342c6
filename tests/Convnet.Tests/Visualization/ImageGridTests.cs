using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.Tensors;
using Convnet.Tests.Data;
using SkiaSharp;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary>Grids of images of any size and channel count: colour kept, small images enlarged, large ones shrunk, names as captions.</summary>
[Trait("Category", "Visualization")]
public sealed class ImageGridTests
{
    [Theory]
    [InlineData(28, 28, 84, 84)]
    [InlineData(32, 32, 96, 96)]
    [InlineData(64, 48, 128, 96)]
    [InlineData(100, 100, 100, 100)]
    [InlineData(160, 90, 160, 90)]
    [InlineData(400, 300, 160, 120)]
    [InlineData(300, 1200, 40, 160)]
    [InlineData(1, 784, 1, 160)]
    [InlineData(1, 1, 84, 84)]
    public void Small_images_are_enlarged_by_a_whole_factor_and_large_ones_shrunk_keeping_the_aspect_ratio(int height, int width, int shownHeight, int shownWidth) =>
        Assert.Equal((shownHeight, shownWidth), ImageGrid.DisplaySize(height, width));

    [Fact]
    public void A_colour_32x32_grid_with_named_classes_keeps_each_image_s_colour_at_three_times_its_size()
    {
        // Three classes, one flat colour each: red, green, blue.
        var shape = Shape.Image(32, 32, 3);
        byte[][] colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
        var pixels = new byte[3 * shape.Size];
        for (int i = 0; i < 3; i++)
        {
            for (int k = 0; k < 32 * 32; k++)
            {
                colours[i].CopyTo(pixels.AsSpan(i * shape.Size + 3 * k, 3));
            }
        }
        var data = new Dataset(pixels, [0, 1, 2], shape, ["red things", "green things", "blue things"]);
        var cells = Enumerable.Range(0, 3).Select(i => new GridCell(i, [new Caption(data.ClassName(data.Label(i)), Drawing.Ink)])).ToList();

        using var bitmap = Decode(ImageGrid.Render(data, cells, "colours", []));

        Assert.Equal(ImageGrid.Size(shape, 3, lines: 1, columns: 8, legend: false), (bitmap.Width, bitmap.Height));
        Assert.Equal((96, 96), BoundingBox(bitmap, new SKColor(255, 0, 0)));
        Assert.Equal((96, 96), BoundingBox(bitmap, new SKColor(0, 255, 0)));
        Assert.Equal((96, 96), BoundingBox(bitmap, new SKColor(0, 0, 255)));
        Assert.Equal(96 * 96, Count(bitmap, new SKColor(255, 0, 0)));
    }

    [Fact]
    public void A_64x48_grayscale_image_is_drawn_twice_as_large_and_not_squeezed_into_a_square()
    {
        // Height 64, width 48: black with a white column on the left quarter.
        var shape = Shape.Image(64, 48, 1);
        var pixels = new byte[shape.Size];
        for (int y = 0; y < 64; y++)
        {
            for (int x = 0; x < 12; x++)
            {
                pixels[y * 48 + x] = 255;
            }
        }
        var data = new Dataset(pixels, [0], shape, ["only"]);

        using var bitmap = Decode(ImageGrid.Render(data, [new GridCell(0, [new Caption("only", Drawing.Ink)])], "gray", []));

        Assert.Equal(ImageGrid.Size(shape, 1, lines: 1, columns: 8, legend: false), (bitmap.Width, bitmap.Height));
        Assert.True(bitmap.Width >= Png.MinWidth);
        Assert.Equal((72, 128), BoundingBox(bitmap, SKColors.Black)); // 36 black columns × 2, 64 rows × 2
        Assert.Equal(72 * 128, Count(bitmap, SKColors.Black));
    }

    [Fact]
    public void A_large_image_is_shrunk_to_the_largest_cell()
    {
        var shape = Shape.Image(400, 300, 3);
        var pixels = new byte[shape.Size];
        for (int k = 0; k < 400 * 300; k++)
        {
            pixels[3 * k] = 255; // red
        }
        var data = new Dataset(pixels, [0], shape);

        using var bitmap = Decode(ImageGrid.Render(data, [new GridCell(0, [new Caption("0", Drawing.Ink)])], "large", []));

        Assert.Equal(ImageGrid.Size(shape, 1, lines: 1, columns: 8, legend: false), (bitmap.Width, bitmap.Height));
        Assert.Equal((120, 160), BoundingBox(bitmap, new SKColor(255, 0, 0)));
    }

    [Fact]
    public void Long_and_odd_class_names_are_cut_to_the_cell_and_do_not_throw()
    {
        var shape = Shape.Image(20, 20, 1);
        string[] names = [new string('W', 300), "<b>&\"'", "日本語のクラス名はとても長いことがあります", " ", "\t"];
        var data = new Dataset(new byte[5 * shape.Size], [0, 1, 2, 3, 4], shape, names);
        var cells = Enumerable.Range(0, 5).Select(i => new GridCell(i, [new Caption($"label {names[i]}", Drawing.Ink, Bold: true), new Caption($"pred {names[4 - i]} (99.0%)", Drawing.Wrong)], Wrong: i % 2 == 0)).ToList();

        using var bitmap = Decode(ImageGrid.Render(data, cells, "names " + names[0], [new LegendEntry(names[0], Drawing.Ink)], columns: 2));

        Assert.Equal(ImageGrid.Size(shape, 5, lines: 2, columns: 2, legend: true), (bitmap.Width, bitmap.Height));
    }

    [Fact]
    public void A_long_class_name_is_cut_but_the_probability_after_it_is_kept()
    {
        using var font = Drawing.Font(12.5f, bold: true);
        var line = new Caption("pred red square with a very long class name indeed", Drawing.Wrong, Bold: true, Suffix: " (35.2%)");
        string text = ImageGrid.Fit(line, font, 142);
        Assert.StartsWith("pred red", text, StringComparison.Ordinal);
        Assert.EndsWith("… (35.2%)", text, StringComparison.Ordinal);
        Assert.True(font.MeasureText(text) <= 142, text);
        Assert.Equal("pred cat (99.0%)", ImageGrid.Fit(new Caption("pred cat", Drawing.Ink, Suffix: " (99.0%)"), font, 142));
    }

    internal static SKBitmap Decode(byte[] png)
    {
        var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        return bitmap;
    }

    /// <summary>Width and height of the smallest rectangle holding every pixel of exactly <paramref name="colour"/>; (0, 0) when none.</summary>
    internal static (int Width, int Height) BoundingBox(SKBitmap bitmap, SKColor colour)
    {
        int left = int.MaxValue, top = int.MaxValue, right = -1, bottom = -1;
        for (int y = 0; y < bitmap.Height; y++)
        {
            for (int x = 0; x < bitmap.Width; x++)
            {
                if (bitmap.GetPixel(x, y) == colour)
                {
                    (left, top, right, bottom) = (Math.Min(left, x), Math.Min(top, y), Math.Max(right, x), Math.Max(bottom, y));
                }
            }
        }
        return right < 0 ? (0, 0) : (right - left + 1, bottom - top + 1);
    }

    internal static int Count(SKBitmap bitmap, SKColor colour)
    {
        int n = 0;
        for (int y = 0; y < bitmap.Height; y++)
        {
            for (int x = 0; x < bitmap.Width; x++)
            {
                n += bitmap.GetPixel(x, y) == colour ? 1 : 0;
            }
        }
        return n;
    }
}
