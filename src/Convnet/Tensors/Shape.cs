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
    /// <summary>Rows of an image; 1 for a vector.</summary>
    public int Height { get; }
    /// <summary>Columns of an image; 1 for a vector.</summary>
    public int Width { get; }
    /// <summary>Channels of an image, or the length of a vector.</summary>
    public int Channels { get; }

    /// <summary>Values in one sample: Height · Width · Channels.</summary>
    public int Size => Height * Width * Channels;

    /// <summary>Whether this is an image (rank 3) rather than a vector.</summary>
    public bool IsImage => Rank == 3;

    /// <summary>An image shape (height, width, channels); every dimension must be positive.</summary>
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

    /// <summary>A vector shape of <paramref name="features"/> values (positive).</summary>
    public static Shape Vector(int features)
    {
        if (features <= 0)
        {
            throw new ArgumentException($"Vector length must be positive, got {features}.", nameof(features));
        }
        return new Shape(1, 1, 1, features);
    }

    /// <summary>"(H, W, C)" or "(F)".</summary>
    public override string ToString() => IsImage ? $"({Height}, {Width}, {Channels})" : $"({Channels})";

    /// <summary>Keras's summary notation, with the batch dimension as None.</summary>
    public string ToBatchString() => IsImage ? $"(None, {Height}, {Width}, {Channels})" : $"(None, {Channels})";
}
