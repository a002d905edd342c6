using Convnet.Cli.Visualization;
using Spectre.Console;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary>predict --image's preview: colour half-blocks on a colour terminal, shades otherwise, always small enough.</summary>
public sealed class TerminalImageTests
{
    private static IAnsiConsole Console(StringWriter writer, ColorSystemSupport colours, int width = 80)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = colours == ColorSystemSupport.NoColors ? AnsiSupport.No : AnsiSupport.Yes,
            ColorSystem = colours,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = width;
        return console;
    }

    /// <summary>A 2×2 RGB image: red, green / blue, white.</summary>
    private static readonly byte[] FourColours = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];

    [Fact]
    public void A_true_colour_terminal_gets_upper_half_blocks_with_24_bit_foreground_and_background()
    {
        var writer = new StringWriter();
        TerminalImage.Write(Console(writer, ColorSystemSupport.TrueColor), FourColours, 2, 2, 3);
        string text = writer.ToString();

        // Red over blue, then green over white: 38;2 = foreground, 48;2 = background.
        Assert.Contains("\u001b[38;2;255;0;0;48;2;0;0;255m▀", text);
        Assert.Contains("\u001b[38;2;0;255;0;48;2;255;255;255m▀", text);
        Assert.Single(text.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Without_colour_each_pixel_is_two_shade_characters_by_brightness()
    {
        var writer = new StringWriter();
        byte[] gray = [0, 64, 128, 255];
        TerminalImage.Write(Console(writer, ColorSystemSupport.NoColors), gray, 2, 2, 1);

        Assert.Equal("  ░░\n▒▒██\n", writer.ToString());
    }

    [Theory]
    [InlineData(28, 28, 80)]
    [InlineData(224, 224, 80)]
    [InlineData(100, 400, 80)]
    [InlineData(400, 100, 80)]
    [InlineData(64, 64, 20)]
    [InlineData(1, 1000, 80)]
    public void Any_image_fits_in_32_lines_and_the_terminal_width(int height, int width, int terminal)
    {
        var pixels = new byte[height * width * 3];
        new Random(1).NextBytes(pixels);
        foreach (var colours in new[] { ColorSystemSupport.TrueColor, ColorSystemSupport.NoColors })
        {
            var writer = new StringWriter();
            TerminalImage.Write(Console(writer, colours, terminal), pixels, height, width, 3);
            var lines = writer.ToString().TrimEnd('\n').Split('\n');
            Assert.InRange(lines.Length, 1, TerminalImage.MaxRows);
            var visible = lines.Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\u001b\\[[0-9;]*m", "").Length).ToList();
            Assert.All(visible, n => Assert.InRange(n, 1, Math.Min(terminal, TerminalImage.MaxColumns)));
        }
    }

    [Fact]
    public void A_digit_sized_image_is_shown_whole_without_colour()
    {
        var pixels = new byte[28 * 28];
        var writer = new StringWriter();
        TerminalImage.Write(Console(writer, ColorSystemSupport.NoColors), pixels, 28, 28, 1);
        var lines = writer.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal(28, lines.Length);
        Assert.All(lines, l => Assert.Equal(56, l.Length));
    }

    [Fact]
    public void Downscaling_averages_the_pixels_each_covers()
    {
        byte[] pixels = [0, 100, 200, 255, 0, 100, 200, 255];
        Assert.Equal([50, 228], TerminalImage.Downscale(pixels, 2, 4, 1, 1, 2));
    }
}
