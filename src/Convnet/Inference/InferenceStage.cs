using Convnet.Tensors;

namespace Convnet.Inference;

/// <summary>
/// One step of an inference plan: reads a group of samples of its input shape, writes the same
/// number of <see cref="Output"/>. A layer adds its stage through <see cref="InferenceCompiler"/>;
/// a stage may take in the layers after it (a ReLU, a per-channel affine, a max pool) when it can
/// apply them to its own output while that output is in cache.
/// </summary>
internal abstract class InferenceStage(string description, Shape output)
{
    /// <summary>The layers it runs, e.g. "conv2d_1 + re_lu_1 + max_pooling2d_1 (Winograd 2×2)".</summary>
    public string Description { get; protected set; } = description;

    /// <summary>The shape of one output sample.</summary>
    public Shape Output { get; protected set; } = output;

    /// <summary>Writes its output over its input (the plan then keeps the same buffer).</summary>
    public virtual bool InPlace => false;

    /// <summary>Multiply-adds ×2 per sample, for the plan's choice between one thread and several.</summary>
    public virtual long Flops => 0;

    /// <summary>Takes in a following ReLU; false when it cannot (the ReLU then gets its own stage).</summary>
    public virtual bool TryRectify(string name) => false;

    /// <summary>Takes in a following per-channel x·scale + shift (BatchNormalization at inference); false when it cannot.</summary>
    public virtual bool TryAffine(float[] scale, float[] shift, string name) => false;

    /// <summary>Takes in a following "valid" max pool of <paramref name="poolSize"/> windows; false when it cannot.</summary>
    public virtual bool TryMaxPool(int poolSize, int stride, Shape output, string name) => false;

    /// <summary>Called once, after the last layer it may take in: chooses its kernels and packs its weights.</summary>
    public virtual void Complete()
    {
    }

    /// <summary>Raises <paramref name="sizes"/> to what this stage needs from one work item's buffers.</summary>
    public virtual void Reserve(ref InferenceWorkspaceSizes sizes)
    {
    }

    // x: [count, ...input] → y: [count, ...Output]
    public abstract void Run(Span<float> x, int count, Span<float> y, InferenceWorkspace ws);

    /// <summary>
    /// The independent parts one sample's work splits into for several threads (see
    /// <see cref="RunPart"/>), a number fixed by the shapes, whatever the thread count; 0 when it
    /// does not split.
    /// </summary>
    public virtual int Parts => 0;

    /// <summary>
    /// Part <paramref name="part"/> of one sample: its parts, run in any order on any threads, each
    /// with its own workspace (<paramref name="ws"/>: scratch only, the activations are x and y),
    /// write together what <see cref="Run"/> writes for that sample, the same bits.
    /// </summary>
    // x: [...input] → y: [...Output]
    public virtual void RunPart(int part, Span<float> x, Span<float> y, InferenceWorkspace ws) =>
        throw new NotSupportedException($"{Description} does not split.");

    /// <summary>The parts a stage splits one sample into: two halves (finer parts measured slower on two threads).</summary>
    protected const int SplitParts = MaxParts;

    /// <summary>The most parts a stage splits into.</summary>
    public const int MaxParts = 2;

    /// <summary>[start, end) of band <paramref name="part"/> when <paramref name="total"/> items are cut into <paramref name="parts"/> near-equal bands.</summary>
    protected static (int Start, int End) Band(int part, int parts, int total) => (part * total / parts, (part + 1) * total / parts);
}
