using System.Globalization;
using Convnet.Data;
using Convnet.Models;
using Convnet.Tensors;

namespace Convnet.Images;

/// <summary>
/// One picture as a classifier's input, as <c>convnet predict --image</c> and <c>convnet serve</c>
/// prepare it: a digit model (<see cref="IsDigitModel"/>) gets it as MNIST's digits were made
/// (<see cref="DigitImage.Preprocess"/>: grayscale, inverted on a light background, scaled into
/// 20×20 and centred by mass in 28×28); any other model gets it resized (bilinear) and made
/// grayscale or RGB as its input takes.
/// </summary>
public static class PictureInput
{
    /// <summary>What makes a digit model, for messages.</summary>
    public const string DigitRule = "input 28×28×1 and 10 classes, unnamed or named 0 to 9";

    /// <summary>
    /// A model made for MNIST-style digits: 28×28×1 input and 10 classes, unnamed or named "0" to
    /// "9" in order. Only such a model gets a picture centred and scaled as MNIST's digits were.
    /// </summary>
    public static bool IsDigitModel(IClassifier net)
    {
        ArgumentNullException.ThrowIfNull(net);
        return net.InputShape == Shape.Image(DigitImage.Side, DigitImage.Side, 1)
            && net.Classes == 10
            && (net.ClassNames is null || net.ClassNames.Select((name, c) => name == c.ToString(CultureInfo.InvariantCulture)).All(same => same));
    }

    /// <summary>The picture file at <paramref name="path"/> as <paramref name="net"/>'s input.</summary>
    /// <exception cref="DataFormatException">The file is missing, no image, above <see cref="ImageDecoder.MaxPixels"/>, truncated or corrupt, or (digit model) blank.</exception>
    public static Prepared Prepare(string path, IClassifier net)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Prepare(net, path,
            () => (ImageDecoder.ReadInfo(path), ImageDecoder.Decode(path, channels: 1)),
            shape => ImageDecoder.Decode(path, shape.Channels, shape.Height, shape.Width));
    }

    /// <summary>An encoded picture held in memory (an upload) as <paramref name="net"/>'s input; <paramref name="name"/> names it in errors.</summary>
    /// <exception cref="DataFormatException">The bytes are no image, above <see cref="ImageDecoder.MaxPixels"/>, truncated or corrupt, or (digit model) blank.</exception>
    public static Prepared Prepare(ReadOnlyMemory<byte> encoded, string name, IClassifier net)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Prepare(net, name,
            () => (ImageDecoder.ReadInfo(encoded.Span, name), ImageDecoder.Decode(encoded.Span, name, channels: 1)),
            shape => ImageDecoder.Decode(encoded.Span, name, shape.Channels, shape.Height, shape.Width));
    }

    private static Prepared Prepare(IClassifier net, string name, Func<(ImageInfo Info, byte[] Gray)> readGray, Func<Shape, byte[]> decodeToInput)
    {
        ArgumentNullException.ThrowIfNull(net);
        if (!IsDigitModel(net))
        {
            byte[] pixels = decodeToInput(net.InputShape);
            var scaled = new float[pixels.Length];
            for (int i = 0; i < pixels.Length; i++)
            {
                scaled[i] = pixels[i] / 255f;
            }
            return new Prepared(scaled, pixels, Digit: false);
        }
        var (info, bytes) = readGray();
        var gray = new float[bytes.Length];
        for (int i = 0; i < gray.Length; i++)
        {
            gray[i] = bytes[i] / 255f;
        }
        float[] input;
        try
        {
            input = DigitImage.Preprocess(gray, info.Width, info.Height);
        }
        catch (ArgumentException e)
        {
            throw new DataFormatException(name, e.Message);
        }
        var seen = new byte[input.Length];
        for (int i = 0; i < input.Length; i++)
        {
            seen[i] = (byte)Math.Clamp(MathF.Round(input[i] * 255), 0, 255);
        }
        return new Prepared(input, seen, Digit: true);
    }

    /// <summary>
    /// A picture ready for the model: <see cref="Input"/> [H, W, C] in [0, 1] as <see cref="IClassifier.Predict(ReadOnlySpan{float})"/>
    /// takes it, <see cref="Seen"/> the same as bytes 0-255 (what the network sees, to show), and
    /// whether it was prepared as an MNIST digit.
    /// </summary>
    public sealed record Prepared(float[] Input, byte[] Seen, bool Digit);
}
