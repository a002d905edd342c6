using System.Text;
using Convnet.Architecture;
using Convnet.Data;
using Convnet.IO;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using SkiaSharp;

namespace Convnet.Fuzz;

/// <summary>
/// Writes the seed corpus, DIR/&lt;target&gt;/*: a few small valid inputs per target (the fuzzer
/// works best from small files). The committed seeds/ folder is this output.
/// </summary>
internal static class Seeds
{
    public static void Write(string dir)
    {
        WriteCsv(Directory.CreateDirectory(Path.Combine(dir, "csv")).FullName);
        WriteModels(Directory.CreateDirectory(Path.Combine(dir, "model")).FullName);
        WriteArch(Directory.CreateDirectory(Path.Combine(dir, "arch")).FullName);
        WriteImages(Directory.CreateDirectory(Path.Combine(dir, "image")).FullName);
    }

    private static void WriteCsv(string dir)
    {
        // One labelled row with LF ends, one unlabelled row quoted with CRLF ends, and a labels file.
        var pixels = new byte[KaggleCsv.PixelCount];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(i % 29 == 0 ? 255 : i % 7 == 0 ? 9 : 0);
        }
        KaggleCsv.WriteLabelled(Path.Combine(dir, "train-1row.csv"), new Dataset(pixels, [7], KaggleCsv.ImageShape));
        string header = string.Join(',', Enumerable.Range(0, KaggleCsv.PixelCount).Select(i => $"pixel{i}"));
        string row = string.Join(',', pixels.Select(p => $"\"{p}\""));
        File.WriteAllText(Path.Combine(dir, "test-quoted-crlf.csv"), $"\uFEFF{header}\r\n{row}\r\n\r\n");
        KaggleCsv.WriteLabels(Path.Combine(dir, "labels.csv"), [3, 1, 4, 1, 5]);
    }

    private static void WriteModels(string dir)
    {
        // Tiny inputs keep the files small: the loader does not care that they are not 28×28.
        using (var dense = ArchitectureSpec.Build("flatten,dense3-relu", Shape.Image(2, 2, 1), 2, seed: 1, threads: 1))
        {
            dense.Save(Path.Combine(dir, "dense.safetensors"));
        }
        using (var conv = ArchitectureSpec.Build("conv2k3same-bn-relu,maxpool2,drop0.5,gap", Shape.Image(4, 4, 1), 3, seed: 2, threads: 1))
        {
            conv.Save(Path.Combine(dir, "conv-bn.safetensors"), new Dictionary<string, string> { ["epochs"] = "1" });
        }
        // Without the checksum, so that mutated tensor bytes reach the model loader.
        var (tensors, metadata) = SafeTensors.Read(Path.Combine(dir, "dense.safetensors"));
        SafeTensors.Write(Path.Combine(dir, "dense-no-checksum.safetensors"), tensors, metadata.Where(e => e.Key != SafeTensors.ChecksumKey).ToDictionary());
        var a = ArchitectureSpec.Build("flatten,dense2", Shape.Image(2, 2, 1), 2, seed: 3, threads: 1);
        var b = ArchitectureSpec.Build("avgpool2,flatten", Shape.Image(2, 2, 1), 2, seed: 4, threads: 1);
        using var ensemble = new Ensemble([a, b]);
        ensemble.Save(Path.Combine(dir, "ensemble.safetensors"));
    }

    private static void WriteArch(string dir)
    {
        File.WriteAllText(Path.Combine(dir, "simple.txt"), "conv32k3-bn-relu,maxpool2,drop0.25,flatten,dense128-relu,dense10");
        File.WriteAllText(Path.Combine(dir, "strides.txt"), "conv8k5s2same-relu,avgpool2s1,maxpool3s2,gap,softmax");
        using var model = ArchitectureSpec.Build("conv4k3-bn-relu,maxpool2,drop0.5,flatten", KaggleCsv.ImageShape, 10, seed: 1, threads: 1);
        File.WriteAllText(Path.Combine(dir, "layers.json"), ModelFile.ArchitectureJson(model));
    }

    private static void WriteImages(string dir)
    {
        // A dark "7" on white, 16×16: small files in each format Skia decodes and encodes.
        var info = new SKImageInfo(16, 16, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        bitmap.Erase(SKColors.White);
        for (int x = 3; x < 13; x++)
        {
            bitmap.SetPixel(x, 3, SKColors.Black);
        }
        for (int y = 4; y < 14; y++)
        {
            bitmap.SetPixel(12 - (y - 4) / 2, y, SKColors.Black);
        }
        using var image = SKImage.FromBitmap(bitmap);
        foreach (var (format, name) in new[] { (SKEncodedImageFormat.Png, "seven.png"), (SKEncodedImageFormat.Jpeg, "seven.jpg"), (SKEncodedImageFormat.Webp, "seven.webp") })
        {
            using var data = image.Encode(format, 80);
            File.WriteAllBytes(Path.Combine(dir, name), data.ToArray());
        }
        // A 1×1 gray BMP: 54 bytes, written by hand since Skia has no BMP encoder.
        var bmp = new byte[58];
        Encoding.ASCII.GetBytes("BM").CopyTo(bmp, 0);
        BitConverter.GetBytes(58).CopyTo(bmp, 2);
        BitConverter.GetBytes(54).CopyTo(bmp, 10);
        BitConverter.GetBytes(40).CopyTo(bmp, 14);
        BitConverter.GetBytes(1).CopyTo(bmp, 18);
        BitConverter.GetBytes(1).CopyTo(bmp, 22);
        BitConverter.GetBytes((short)1).CopyTo(bmp, 26);
        BitConverter.GetBytes((short)24).CopyTo(bmp, 28);
        BitConverter.GetBytes(4).CopyTo(bmp, 34);
        bmp[54] = bmp[55] = bmp[56] = 40;
        File.WriteAllBytes(Path.Combine(dir, "dot.bmp"), bmp);
    }
}
