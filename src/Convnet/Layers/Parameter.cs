namespace Convnet.Layers;

/// <summary>
/// A named (value, gradient) pair: a view into the model's one flat value buffer and its twin
/// gradient buffer. Optimizers see only these.
/// </summary>
public sealed class Parameter
{
    private readonly ParameterStore _store;

    internal Parameter(ParameterStore store, string name, int[] shape, int offset)
    {
        _store = store;
        Name = name;
        Shape = shape;
        Offset = offset;
        // Counted in long: a product that wraps in int would give a wrong (even small) buffer.
        long length = 1;
        foreach (int d in shape)
        {
            length *= d;
            if (length > Array.MaxLength)
            {
                throw new ArgumentException($"Parameter {name} of shape [{string.Join(", ", shape)}] has more than {Array.MaxLength:N0} values.");
            }
        }
        Length = (int)length;
    }

    /// <summary>e.g. "conv2d_1.kernel".</summary>
    public string Name { get; }

    /// <summary>The layout in memory, e.g. [KH, KW, Cin, Cout] for a Conv2D kernel.</summary>
    public int[] Shape { get; }

    /// <summary>Where this parameter starts in the store's flat <see cref="ParameterStore.Values"/> and <see cref="ParameterStore.Gradients"/>.</summary>
    public int Offset { get; }
    /// <summary>The number of values, the product of <see cref="Shape"/>.</summary>
    public int Length { get; }

    /// <summary>The values, in the layout of <see cref="Shape"/>; a view into the store, written by optimizers and loading.</summary>
    public Span<float> Value => _store.Values.AsSpan(Offset, Length);
    /// <summary>dL/d<see cref="Value"/>, same layout; Backward accumulates into it until <see cref="ParameterStore.ZeroGradients"/>.</summary>
    public Span<float> Gradient => _store.Gradients.AsSpan(Offset, Length);

    /// <summary>The flat gradient array this parameter lives in, at <see cref="Offset"/>.</summary>
    internal float[] GradientBuffer => _store.Gradients;
}

/// <summary>Owns the flat value and gradient buffers behind every <see cref="Parameter"/> of a model.</summary>
public sealed class ParameterStore
{
    private readonly List<Parameter> _parameters = [];

    /// <summary>Every parameter's values, back to back in the order they were added; replaced by a larger array on each <see cref="Add"/>.</summary>
    public float[] Values { get; private set; } = [];
    /// <summary>The gradients, laid out as <see cref="Values"/>.</summary>
    public float[] Gradients { get; private set; } = [];
    /// <summary>The total number of parameter values.</summary>
    public int Count => Values.Length;
    /// <summary>The parameters, in the order they were added.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Appends a parameter; only while the model is being built.</summary>
    public Parameter Add(string name, params int[] shape)
    {
        var p = new Parameter(this, name, shape, Values.Length);
        if ((long)Values.Length + p.Length > Array.MaxLength)
        {
            throw new ArgumentException($"Parameter {name} would take the model past {Array.MaxLength:N0} parameter values.");
        }
        var values = Values;
        var gradients = Gradients;
        Array.Resize(ref values, Values.Length + p.Length);
        Array.Resize(ref gradients, Gradients.Length + p.Length);
        Values = values;
        Gradients = gradients;
        _parameters.Add(p);
        return p;
    }

    /// <summary>Sets every gradient to 0, before a batch's Backward accumulates into them.</summary>
    public void ZeroGradients() => Array.Clear(Gradients);
}
