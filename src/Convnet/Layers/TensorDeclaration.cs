namespace Convnet.Layers;

/// <summary>
/// One tensor a layer saves, declared before anything is allocated: its PyTorch state-dict suffix
/// (e.g. "weight") and its shape in PyTorch's layout (e.g. [out, in, kh, kw]).
/// </summary>
public sealed record TensorDeclaration
{
    /// <summary>Declares tensor <paramref name="name"/> of <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">The shape has more values than one array can hold.</exception>
    public TensorDeclaration(string name, params int[] shape)
    {
        Name = name;
        Shape = shape;
        long length = 1;
        foreach (int d in shape)
        {
            length *= d;
            if (length > Array.MaxLength)
            {
                throw new ArgumentException($"its {name} [{string.Join(", ", shape)}] would hold more values than one array can ({Array.MaxLength:N0})");
            }
        }
        Length = (int)length;
    }

    /// <summary>The PyTorch state-dict suffix, e.g. "weight" (the first layer's is saved as "0.weight").</summary>
    public string Name { get; }
    /// <summary>The shape in PyTorch's layout, e.g. [out, in, kh, kw].</summary>
    public int[] Shape { get; }

    /// <summary>The number of values, the product of <see cref="Shape"/>.</summary>
    public int Length { get; }

    /// <summary>True for non-trainable state (e.g. a moving mean), false for a trained parameter.</summary>
    public bool IsState { get; init; }
}
