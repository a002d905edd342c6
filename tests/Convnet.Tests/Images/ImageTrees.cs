using System.Buffers.Binary;
using System.IO.Compression;
using Convnet.Data;
using Convnet.Images;
using Convnet.Runtime;
using Convnet.Tensors;
using SkiaSharp;

namespace Convnet.Tests.Images;

/// <summary>Image files and folder trees for the tests, written by Skia (through <see cref="ImageDecoder"/>) or by a small PNG writer for the formats Skia does not write.</summary>
internal static class ImageTrees
{
    /// <summary>Writes <paramref name="pixels"/> [height, width, channels] as a PNG at <paramref name="path"/>, making its folder.</summary>
    public static string WritePng(string path, ReadOnlySpan<byte> pixels, int height, int width, int channels)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, ImageDecoder.EncodePng(pixels, height, width, channels));
        return path;
    }

    /// <summary>A uniform image of <paramref name="value"/> in every channel.</summary>
    public static string WriteFlat(string path, int height, int width, int channels = 1, byte value = 128)
    {
        var pixels = new byte[height * width * channels];
        Array.Fill(pixels, value);
        return WritePng(path, pixels, height, width, channels);
    }

    /// <summary>Random pixels, seeded; with <paramref name="gray"/> R = G = B in each pixel of a 3-channel image.</summary>
    public static byte[] Noise(int height, int width, int channels, ulong seed, bool gray = false)
    {
        var rng = new Rng(seed);
        var pixels = new byte[height * width * channels];
        for (int p = 0; p < height * width; p++)
        {
            byte v = (byte)rng.NextInt(256);
            for (int c = 0; c < channels; c++)
            {
                pixels[p * channels + c] = gray ? v : (byte)rng.NextInt(256);
            }
        }
        return pixels;
    }

    /// <summary>
    /// A PNG written byte by byte (signature, IHDR, one IDAT of unfiltered rows, IEND), for the
    /// formats Skia's encoder does not write: 16-bit samples, gray with alpha (colour type 4).
    /// </summary>
    /// <param name="colourType">0 gray, 2 RGB, 4 gray + alpha, 6 RGBA.</param>
    /// <param name="samples">Row-major samples, each stored in <paramref name="bitDepth"/> bits (8 or 16).</param>
    public static byte[] RawPng(int width, int height, byte colourType, byte bitDepth, ReadOnlySpan<ushort> samples)
    {
        int perPixel = colourType switch { 0 => 1, 2 => 3, 4 => 2, 6 => 4, _ => throw new ArgumentOutOfRangeException(nameof(colourType)) };
        int bytesPerSample = bitDepth / 8;
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0); // filter: none
            for (int i = 0; i < width * perPixel; i++)
            {
                ushort s = samples[y * width * perPixel + i];
                if (bytesPerSample == 2)
                {
                    raw.WriteByte((byte)(s >> 8));
                }
                raw.WriteByte((byte)s);
            }
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(raw.ToArray());
        }
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = bitDepth;
        header[9] = colourType;
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        var typed = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type, typed);
        data.CopyTo(typed, 4);
        png.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(length, Crc32(typed));
        png.Write(length);
    }

    /// <summary>PNG's CRC-32 (ISO 3309, polynomial 0xEDB88320), bit by bit.</summary>
    internal static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }
        return ~crc;
    }

    /// <summary>
    /// Writes <paramref name="data"/>'s images as grayscale PNGs into class folders named by label
    /// (root/3/0000.png, 0001.png, ... in the order they appear), and returns the same images
    /// in the order a folder is read: by class, then by file name.
    /// </summary>
    public static Dataset WriteClassFolders(string root, Dataset data)
    {
        var order = Enumerable.Range(0, data.Count).OrderBy(i => data.Label(i)).ToArray(); // stable: appearance within a class
        var next = new int[Dataset.MaxClasses];
        var shape = data.SampleShape;
        foreach (int i in order)
        {
            int label = data.Label(i);
            WritePng(Path.Combine(root, label.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{next[label]++:D4}.png"), data.Image(i), shape.Height, shape.Width, shape.Channels);
        }
        return data.Subset(order);
    }

    /// <summary>The class names of <see cref="ColourShapes"/>.</summary>
    public static readonly string[] ShapeClasses = ["circle", "square", "triangle"];

    /// <summary>
    /// <paramref name="perClass"/> images of each of a filled circle, square and triangle of
    /// random colour, size and place on a random light background, <paramref name="side"/> pixels
    /// square, RGB, written as PNG into root/circle, root/square, root/triangle.
    /// </summary>
    public static void ColourShapes(string root, int perClass, int side = 16, ulong seed = 5)
    {
        var rng = new Rng(seed);
        for (int c = 0; c < ShapeClasses.Length; c++)
        {
            for (int i = 0; i < perClass; i++)
            {
                using var bitmap = new SKBitmap(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Premul));
                using (var canvas = new SKCanvas(bitmap))
                using (var paint = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill })
                {
                    canvas.Clear(new SKColor((byte)(170 + rng.NextInt(80)), (byte)(170 + rng.NextInt(80)), (byte)(170 + rng.NextInt(80))));
                    paint.Color = new SKColor((byte)rng.NextInt(150), (byte)rng.NextInt(150), (byte)rng.NextInt(150));
                    float r = side * (0.25f + 0.15f * rng.NextInt(100) / 100f);
                    float cx = r + (side - 2 * r) * rng.NextInt(100) / 100f, cy = r + (side - 2 * r) * rng.NextInt(100) / 100f;
                    switch (c)
                    {
                        case 0:
                            canvas.DrawCircle(cx, cy, r, paint);
                            break;
                        case 1:
                            canvas.DrawRect(cx - r, cy - r, 2 * r, 2 * r, paint);
                            break;
                        default:
                            using (var path = SKPath.ParseSvgPathData(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"M{cx},{cy - r} L{cx + r},{cy + r} L{cx - r},{cy + r} Z")))
                            {
                                canvas.DrawPath(path, paint);
                            }
                            break;
                    }
                }
                string file = Path.Combine(root, ShapeClasses[c], $"{i:D3}.png");
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                using var encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(file, encoded.ToArray());
            }
        }
    }

    /// <summary>The first <paramref name="keep"/> bytes of <paramref name="path"/> written to <paramref name="to"/>.</summary>
    public static string Truncated(string path, string to, int keep)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.WriteAllBytes(to, File.ReadAllBytes(path)[..keep]);
        return to;
    }

    public static Shape Gray28 => Shape.Image(28, 28, 1);
}
