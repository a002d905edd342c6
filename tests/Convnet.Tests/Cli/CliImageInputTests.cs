using System.Buffers.Binary;
using System.Diagnostics;
using Convnet.Cli;
using Convnet.Data;
using Convnet.Tests.Data;
using SkiaSharp;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>predict --image refuses cut, corrupt and absurdly large pictures, naming the file, instead of classifying them.</summary>
public sealed class CliImageInputTests(TrainedModelFixture trained) : IClassFixture<TrainedModelFixture>
{
    private static string Reencode(TempDir dir, string png, SKEncodedImageFormat format, string name)
    {
        using var bitmap = SKBitmap.Decode(png);
        using var data = bitmap.Encode(format, 90);
        return dir.Write(name, data.ToArray());
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, "cut.png")]
    [InlineData(SKEncodedImageFormat.Jpeg, "cut.jpg")]
    public void A_truncated_image_is_refused_naming_the_file(SKEncodedImageFormat format, string name)
    {
        using var dir = new TempDir();
        string whole = Reencode(dir, CliImages.WriteDigitPng(dir, "seven.png", '7', whiteOnBlack: false), format, "whole" + Path.GetExtension(name));
        CliHarness.Succeeds("predict", "--image", whole, "--model", trained.Path);

        byte[] bytes = File.ReadAllBytes(whole);
        string cut = dir.Write(name, bytes[..(bytes.Length / 2)]);
        var result = CliHarness.Run("predict", "--image", cut, "--model", trained.Path);
        Assert.Equal(1, result.ExitCode);
        Assert.DoesNotContain("Predicted digit", result.Out, StringComparison.Ordinal);
        Assert.Equal($"error: {cut}: the image is truncated (its data ends before the last row)", result.Err.TrimEnd('\n'));
    }

    [Fact]
    public void A_corrupt_png_is_refused_naming_the_file()
    {
        using var dir = new TempDir();
        byte[] bytes = File.ReadAllBytes(CliImages.WriteDigitPng(dir, "one.png", '1', whiteOnBlack: true));
        // Scramble the compressed pixel data in the middle of the file (IDAT), keep its length.
        for (int i = bytes.Length / 3; i < bytes.Length * 2 / 3; i++)
        {
            bytes[i] ^= 0x5A;
        }
        string bad = dir.Write("scrambled.png", bytes);
        var result = CliHarness.Run("predict", "--image", bad, "--model", trained.Path);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: {bad}: the image is", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Predicted digit", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void An_image_claiming_100000_by_100000_pixels_is_refused_from_its_header_without_allocating()
    {
        using var dir = new TempDir();
        string huge = dir.Write("huge.png", PngClaiming(CliImages.WriteDigitPng(dir, "one.png", '1', whiteOnBlack: true), 100_000, 100_000));
        ImageLoaderRefuses(huge); // warm up Skia and the JIT

        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var e = ImageLoaderRefuses(huge);
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal($"{huge}: image of 100000×100000 pixels is larger than the {DigitImage.MaxPixels / 1_000_000} megapixels accepted; scale it down", e.Message);
        Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated");
        Assert.True(clock.ElapsedMilliseconds < 1000, $"{clock.ElapsedMilliseconds} ms");

        var result = CliHarness.Run("predict", "--image", huge, "--model", trained.Path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("100000×100000", result.Err, StringComparison.Ordinal);
    }

    private static UserError ImageLoaderRefuses(string path) => Assert.Throws<UserError>(() => ImageLoader.LoadGray(path));

    /// <summary>A valid PNG whose IHDR (first chunk, after the 8-byte signature) says width × height, its CRC fixed.</summary>
    private static byte[] PngClaiming(string png, int width, int height)
    {
        byte[] bytes = File.ReadAllBytes(png);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), Images.ImageTrees.Crc32(bytes.AsSpan(12, 17))); // "IHDR" + 13 bytes of fields
        return bytes;
    }
}
