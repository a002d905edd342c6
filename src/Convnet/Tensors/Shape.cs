namespace Convnet.Tensors;

/// <summary>
/// The shape of one sample, without the batch dimension: (height, width, channels) for images,
/// (features) for vectors. Images are stored channels-last (NHWC) in memory, as Keras does,
/// so that im2col rows are contiguous and a batch of convolutions is one GEMM.
/// </summary>
public readonly record struct Shape
{
    private Shape(int rank, int height, int width, int channels)
    {
        Rank = rank;
        Height = height;
        Width = width;
        Channels = channels;
    }

    /// <summary>1 for a vector, 3 for an image.</summary>
    public int Rank { get; }
    public int Height { get; }
    public int Width { get; }
    /// <summary>Channels of an image, or the length of a vector.</summary>
    public int Channels { get; }

    public int Size => Height * Width * Channels;

    public bool IsImage => Rank == 3;

    public static Shape Image(int height, int width, int channels)
    {
        if (height <= 0 || width <= 0 || channels <= 0)
        {
            throw new ArgumentException($"Image dimensions must be positive, got ({height}, {width}, {channels}).");
        }
        // Size is an int: a larger image would wrap to a wrong (even small) element count.
        long pixels = (long)height * width;
        if (pixels > int.MaxValue || pixels * channels > int.MaxValue)
        {
            throw new ArgumentException($"Image ({height}, {width}, {channels}) has {pixels * channels:N0} values, more than {int.MaxValue:N0}.");
        }
        return new Shape(3, height, width, channels);
    }

    public static Shape Vector(int features)
    {
        if (features <= 0)
        {
            throw new ArgumentException($"Vector length must be positive, got {features}.", nameof(features));
        }
        return new Shape(1, 1, 1, features);
    }

    public override string ToString() => IsImage ? $"({Height}, {Width}, {Channels})" : $"({Channels})";

    /// <summary>Keras's summary notation, with the batch dimension as None.</summary>
    public string ToBatchString() => IsImage ? $"(None, {Height}, {Width}, {Channels})" : $"(None, {Channels})";
}
