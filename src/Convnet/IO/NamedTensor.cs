namespace Convnet.IO;

/// <summary>
/// One named float32 tensor as stored in a model file: row-major <see cref="Data"/> of length
/// equal to the product of <see cref="Shape"/> (1 for the empty shape of a scalar).
/// Equality compares names, shapes and the bits of every value.
/// </summary>
public sealed record NamedTensor
{
    /// <summary>A tensor called <paramref name="name"/>; <paramref name="data"/> (kept, not copied) must hold exactly the product of <paramref name="shape"/> values.</summary>
    public NamedTensor(string name, int[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = ElementCount(shape);
        if (count != data.Length)
        {
            throw new ArgumentException($"Tensor '{name}' has shape [{string.Join(", ", shape)}] ({count} values) but {data.Length} data values.", nameof(data));
        }
        Name = name;
        Shape = shape;
        Data = data;
    }

    /// <summary>The tensor's name in the file, e.g. "0.weight".</summary>
    public string Name { get; }
    /// <summary>The dimensions, outermost first (PyTorch's order).</summary>
    public int[] Shape { get; }
    /// <summary>The values, row-major.</summary>
    public float[] Data { get; }

    /// <summary>The product of <paramref name="shape"/>; throws for a negative dimension or a product beyond the largest array.</summary>
    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int dim in shape)
        {
            if (dim < 0)
            {
                throw new ArgumentException($"Shape dimensions must be non-negative, got [{string.Join(", ", shape.ToArray())}].", nameof(shape));
            }
            count *= dim;
            if (count > Array.MaxLength)
            {
                throw new ArgumentException($"Shape [{string.Join(", ", shape.ToArray())}] has more values than an array can hold.", nameof(shape));
            }
        }
        return count;
    }

    /// <summary>Same name, same shape and the same bits in every value.</summary>
    public bool Equals(NamedTensor? other)
    {
        if (other is null)
        {
            return false;
        }
        if (ReferenceEquals(this, other))
        {
            return true;
        }
        return Name == other.Name
            && Shape.AsSpan().SequenceEqual(other.Shape)
            && System.Runtime.InteropServices.MemoryMarshal.AsBytes(Data.AsSpan())
                .SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(other.Data.AsSpan()));
    }

    /// <summary>A hash of the name, the shape and the length (not of the values).</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name);
        foreach (int dim in Shape)
        {
            hash.Add(dim);
        }
        hash.Add(Data.Length);
        return hash.GetHashCode();
    }

    /// <summary>The name and shape, e.g. "0.weight [32, 1, 3, 3]".</summary>
    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}
