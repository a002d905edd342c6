using Xunit;

namespace Convnet.Tests.Cli;

public sealed class CliBenchInputShapeTests
{
    [Fact]
    public void Bench_measures_colour_images_of_another_size()
    {
        var result = CliHarness.Succeeds("bench", "--input-shape", "32x32x3", "--classes", "6", "--seconds", "0.05", "--threads", "1", "--batch-size", "16");

        Assert.Contains("Model 'simple' on 32x32x3 images, 6 classes, 315,206 parameters", result.Out);
        Assert.Contains("train     batch   16:", result.Out);
    }

    [Theory]
    [InlineData("32x32", "--input-shape needs HxWxC")]
    [InlineData("32x32x2", "--input-shape needs HxWxC")]
    [InlineData("0x32x1", "--input-shape needs HxWxC")]
    [InlineData("axbxc", "--input-shape needs HxWxC")]
    [InlineData("1024x1024x3", "at most 262,144 are measured")]
    public void Bench_refuses_a_bad_input_shape(string shape, string message)
    {
        var result = CliHarness.Run("bench", "--input-shape", shape, "--seconds", "0.05", "--threads", "1");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Err);
        Assert.Contains(message, result.Err);
        Assert.Contains(shape, result.Err);
    }

    [Fact]
    public void Bench_refuses_a_bad_class_count()
    {
        var result = CliHarness.Run("bench", "--classes", "1", "--seconds", "0.05", "--threads", "1");

        Assert.Equal((1, "error: --classes must be from 2 to 256, got 1\n"), (result.ExitCode, result.Err));
    }
}
