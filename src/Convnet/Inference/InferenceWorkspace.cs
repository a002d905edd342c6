namespace Convnet.Inference;

/// <summary>The largest workspace each kind of buffer needs, per work item.</summary>
internal struct InferenceWorkspaceSizes
{
    public int Columns;
    public int Scratch;
    public int Transformed;
    public int Products;
    public int Phases;
}

/// <summary>One work item's buffers, owned by the plan and reused by every call.</summary>
internal sealed class InferenceWorkspace
{
    private float[] _a = [];
    private float[] _b = [];

    public float[] Columns { get; private set; } = [];
    public float[] Scratch { get; private set; } = [];
    public float[] Transformed { get; private set; } = [];
    public float[] Products { get; private set; } = [];
    public float[] Phases { get; private set; } = [];

    /// <summary>One of the two activation buffers the stages alternate between.</summary>
    public Span<float> Activations(int which, int length) => (which == 0 ? _a : _b).AsSpan(0, length);

    public void Ensure(in InferenceWorkspaceSizes sizes, int activations)
    {
        _a = Grow(_a, activations);
        _b = Grow(_b, activations);
        Columns = Grow(Columns, sizes.Columns);
        Scratch = Grow(Scratch, sizes.Scratch);
        Transformed = Grow(Transformed, sizes.Transformed);
        Products = Grow(Products, sizes.Products);
        Phases = Grow(Phases, sizes.Phases);
    }

    private static float[] Grow(float[] buffer, int length) => buffer.Length >= length ? buffer : GC.AllocateArray<float>(length, pinned: true);
}
