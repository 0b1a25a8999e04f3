"""Everything that runs inside Blender (bpy): the live scene, render steps and GT passes."""
